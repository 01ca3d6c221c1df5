#include "net/event_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tftp::net {

Result<EventLoop> EventLoop::create() {
  EventLoop loop;
  loop.epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (loop.epoll_fd_ < 0) return make_error("tftp.net.epoll_failed", std::string("epoll_create1: ") + std::strerror(errno));
  return loop;
}

EventLoop::EventLoop(EventLoop&& o) noexcept : epoll_fd_(o.epoll_fd_), handlers_(std::move(o.handlers_)) { o.epoll_fd_ = -1; }

EventLoop& EventLoop::operator=(EventLoop&& o) noexcept {
  if (this != &o) {
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    epoll_fd_ = o.epoll_fd_;
    handlers_ = std::move(o.handlers_);
    o.epoll_fd_ = -1;
  }
  return *this;
}

EventLoop::~EventLoop() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Result<void> EventLoop::watch(int fd, std::function<void()> on_readable) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return make_error("tftp.net.epoll_failed", std::string("epoll_ctl: ") + std::strerror(errno));
  }
  handlers_[fd] = std::make_shared<std::function<void()>>(std::move(on_readable));
  return {};
}

void EventLoop::unwatch(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

Result<bool> EventLoop::run_once(std::optional<Instant> deadline) {
  int timeout_ms = -1;
  if (deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - real_now());
    timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
  }
  epoll_event events[64];
  const int n = ::epoll_wait(epoll_fd_, events, 64, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return false;
    return make_error("tftp.net.epoll_failed", std::string("epoll_wait: ") + std::strerror(errno));
  }
  for (int i = 0; i < n; ++i) {
    // A handler may unwatch other fds: look each one up afresh.
    auto it = handlers_.find(events[i].data.fd);
    if (it != handlers_.end()) {
      auto handler = it->second;
      (*handler)();
    }
  }
  return true;
}

}  // namespace tftp::net
