// A single-threaded readiness loop over epoll with one timer: the I/O half of the
// sans-IO split. Handlers run on the loop's thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "common/result.h"
#include "common/time.h"

namespace tftp::net {

class EventLoop {
 public:
  static Result<EventLoop> create();
  EventLoop(EventLoop&&) noexcept;
  EventLoop& operator=(EventLoop&&) noexcept;
  ~EventLoop();

  // Calls `on_readable` whenever `fd` has data. The fd stays owned by the caller.
  Result<void> watch(int fd, std::function<void()> on_readable);
  void unwatch(int fd);

  // Waits until a watched fd is readable or `deadline` passes, and runs the handlers of
  // the ready fds. Returns false if interrupted by a signal.
  Result<bool> run_once(std::optional<Instant> deadline);

 private:
  EventLoop() = default;
  int epoll_fd_ = -1;
  // shared_ptr: a handler may unwatch its own fd while it runs.
  std::unordered_map<int, std::shared_ptr<std::function<void()>>> handlers_;
};

}  // namespace tftp::net
