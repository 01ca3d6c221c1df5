// Time as values. The engine never reads a clock: callers pass `now`.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace tftp {

// A monotonic time base shared by the real clock and the virtual clock. It has no now():
// real time comes from real_now() at the edges, virtual time from a VirtualClock.
struct MonoClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<MonoClock, duration>;
  static constexpr bool is_steady = true;
};

using Duration = std::chrono::nanoseconds;
using Instant = MonoClock::time_point;

// Reads the steady clock. Only I/O layers (net/, cli/) call this.
inline Instant real_now() {
  return Instant(std::chrono::duration_cast<Duration>(
      std::chrono::steady_clock::now().time_since_epoch()));
}

// The wall-clock time now, ISO 8601 in UTC ("2026-11-26T11:05:01Z"): when a report was made.
inline std::string utc_now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

inline double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace tftp
