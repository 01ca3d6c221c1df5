#include "tests/support/reference_server.h"

#include <stdexcept>

namespace tftp::testing {

ReferenceServerThread::ReferenceServerThread(const std::filesystem::path& root, server::ServerConfig config) {
  server::RootPolicy policy;
  policy.writable = true;
  auto files = server::RootDirectory::open(root, policy);
  if (!files) throw std::runtime_error("cannot serve " + root.string() + ": " + files.error());
  files_ = std::move(*files);
  auto server = server::UdpServer::start({Address::loopback_v4(0)}, std::move(config), *files_);
  if (!server) throw std::runtime_error("cannot start the reference server: " + server.error().message);
  server_ = std::move(*server);
  address_ = server_->listening().front();
  thread_ = std::thread([this] { (void)server_->run(stop_); });
}

ReferenceServerThread::~ReferenceServerThread() { stop(); }

void ReferenceServerThread::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace tftp::testing
