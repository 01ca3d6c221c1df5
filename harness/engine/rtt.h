// Round-trip estimation for the adaptive retransmission timeout.
//
// RFC 1123 §4.2.3.2: "TFTP MUST use an adaptive timeout". The estimator is RFC 6298 §2's
// (SRTT/RTTVAR with gains 1/8 and 1/4); what counts as a sample, and how the timeout is
// clamped, is the transfer's business (engine/transfer.cc).
#pragma once

#include <algorithm>
#include <optional>

#include "common/time.h"

namespace tftp::engine {

class RttEstimator {
 public:
  // RFC 6298 §2.2 (first sample) and §2.3 (later samples).
  void sample(Duration r) {
    if (!srtt_) {
      srtt_ = r;
      rttvar_ = r / 2;
      return;
    }
    const Duration delta = *srtt_ > r ? *srtt_ - r : r - *srtt_;
    rttvar_ = (3 * rttvar_ + delta) / 4;
    srtt_ = (7 * *srtt_ + r) / 8;
  }

  bool has_sample() const { return srtt_.has_value(); }
  Duration srtt() const { return srtt_.value_or(Duration::zero()); }
  Duration rttvar() const { return rttvar_; }

  // SRTT + max(G, 4·RTTVAR), RFC 6298 §2.3; nullopt before the first sample.
  std::optional<Duration> timeout(Duration granularity) const {
    if (!srtt_) return std::nullopt;
    return *srtt_ + std::max(granularity, 4 * rttvar_);
  }

 private:
  std::optional<Duration> srtt_;
  Duration rttvar_{};
};

}  // namespace tftp::engine
