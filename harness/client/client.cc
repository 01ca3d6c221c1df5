#include "client/client.h"

#include <algorithm>

#include "net/udp_socket.h"

namespace tftp::client {

namespace {
constexpr int kSocketBuffer = 4 << 20;  // room for a large window (see DESIGN.md)
constexpr Duration kCancelPoll = std::chrono::milliseconds(100);

Result<Report> run(engine::Transfer transfer, net::UdpSocket socket, Instant started, const std::atomic<bool>* cancel) {
  std::vector<uint8_t> buffer(proto::kMaxDatagramSize + 1);
  for (;;) {
    while (auto t = transfer.poll_transmit(buffer)) {
      (void)socket.send_to(t->to, std::span<const uint8_t>(buffer).first(t->size));  // failure = loss
    }
    if (transfer.finished()) break;
    if (cancel != nullptr && cancel->load()) {
      transfer.cancel("Transfer cancelled by user");
      continue;
    }
    const auto deadline = transfer.poll_timeout();
    Duration wait = deadline ? std::max(Duration::zero(), *deadline - real_now()) : kCancelPoll;
    if (cancel != nullptr) wait = std::min(wait, kCancelPoll);
    auto got = socket.receive_wait(buffer, wait);
    if (!got) return tl::unexpected(got.error());
    const Instant now = real_now();
    if (*got) {
      transfer.handle_datagram(now, (*got)->from, std::span<const uint8_t>(buffer).first((*got)->size));
      // Take whatever else is already queued before sending: keeps windows flowing.
      for (int burst = 0; burst < 64; ++burst) {
        auto more = socket.receive(buffer);
        if (!more || !*more) break;
        transfer.handle_datagram(real_now(), (*more)->from, std::span<const uint8_t>(buffer).first((*more)->size));
      }
    }
    transfer.handle_timeout(now);
  }
  const auto& outcome = transfer.outcome();
  return Report{outcome.value_or(engine::Outcome{engine::OutcomeKind::kCancelled, 0, "no outcome"}), transfer.stats(),
                transfer.params(), real_now() - started};
}

Result<net::UdpSocket> socket_for(const Address& server) {
  auto socket = net::UdpSocket::ephemeral_for(server);
  if (socket) socket->set_buffer_sizes(kSocketBuffer);
  return socket;
}

}  // namespace

std::vector<proto::OwnedOption> make_options(std::optional<size_t> blksize, std::optional<uint16_t> windowsize,
                                             std::optional<uint64_t> tsize, std::optional<int> timeout_seconds) {
  std::vector<proto::OwnedOption> options;
  if (blksize) options.push_back({"blksize", std::to_string(*blksize)});
  if (windowsize) options.push_back({"windowsize", std::to_string(*windowsize)});
  if (tsize) options.push_back({"tsize", std::to_string(*tsize)});
  if (timeout_seconds) options.push_back({"timeout", std::to_string(*timeout_seconds)});
  return options;
}

Result<Report> download(const Request& request, std::unique_ptr<engine::ByteSink> sink, const std::atomic<bool>* cancel) {
  auto socket = socket_for(request.server);
  if (!socket) return tl::unexpected(socket.error());
  const Instant now = real_now();
  auto transfer = engine::Transfer::client_read(request.transfer, request.server, request.remote, request.mode,
                                                request.options, std::move(sink), now);
  return run(std::move(transfer), std::move(*socket), now, cancel);
}

Result<Report> upload(const Request& request, std::unique_ptr<engine::ByteSource> source, const std::atomic<bool>* cancel) {
  auto socket = socket_for(request.server);
  if (!socket) return tl::unexpected(socket.error());
  const Instant now = real_now();
  auto transfer = engine::Transfer::client_write(request.transfer, request.server, request.remote, request.mode,
                                                 request.options, std::move(source), now);
  return run(std::move(transfer), std::move(*socket), now, cancel);
}

}  // namespace tftp::client
