// The reference server over real UDP on loopback, serving a directory from its own thread:
// the target of integration tests that need a correct server they can also kill.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "server/file_store.h"
#include "server/udp_server.h"

namespace tftp::testing {

class ReferenceServerThread {
 public:
  // Serves `root` (writable) on 127.0.0.1 at an ephemeral port. Throws if it cannot start.
  explicit ReferenceServerThread(const std::filesystem::path& root, server::ServerConfig config = {});
  ~ReferenceServerThread();
  ReferenceServerThread(const ReferenceServerThread&) = delete;
  ReferenceServerThread& operator=(const ReferenceServerThread&) = delete;

  // The listening address; still known after stop().
  const Address& address() const { return address_; }
  // Stops serving and closes every socket: the target is gone. Idempotent.
  void stop();

 private:
  std::unique_ptr<server::RootDirectory> files_;
  std::unique_ptr<server::UdpServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Address address_;
};

}  // namespace tftp::testing
