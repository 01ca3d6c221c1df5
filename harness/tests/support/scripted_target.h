// A made-up target on loopback for tests of how the harness meets a misbehaving server.
#pragma once

#include <atomic>
#include <functional>
#include <span>
#include <thread>
#include <vector>

#include "net/udp_socket.h"

namespace tftp::testing {

// Every datagram that reaches it is handed to `answer`, on a thread of its own, until the
// object goes away. Each test scripts the misbehaviour it needs.
class ScriptedTarget {
 public:
  using Answer = std::function<void(net::UdpSocket& socket, const Address& from, std::span<const uint8_t> bytes)>;
  explicit ScriptedTarget(Answer answer) : socket_(std::move(*net::UdpSocket::bind(Address::loopback_v4(0)))) {
    thread_ = std::thread([this, answer = std::move(answer)] {
      std::vector<uint8_t> buffer(70000);
      while (!stop_) {
        auto got = socket_.receive_wait(buffer, std::chrono::milliseconds(20));
        if (got && *got) answer(socket_, (*got)->from, std::span<const uint8_t>(buffer).first((*got)->size));
      }
    });
  }
  ~ScriptedTarget() {
    stop_ = true;
    thread_.join();
  }
  Address address() const { return socket_.local_address(); }

 private:
  net::UdpSocket socket_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tftp::testing
