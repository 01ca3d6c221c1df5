#include "check/rule_table.h"

#include <algorithm>
#include <array>

namespace tftp::check {

namespace {

using namespace rule;
constexpr std::array kTable{
    kMalformedError,   kMalformedOack,      kDataTooLong,        kMalformedPacket,       kErrorCodeUndefined,
    kReplyFromListenPort, kStrayDisturbed,  kStrayAccepted,      kStrayNotAnswered,      kStrayNotSeen,
    kLockstep,         kDataBeforeAck0,     kWindow,             kBlockSequence,         kSkipOnUnsentAck,       kAckForUnsentData,      kDataAfterFinal,
    kOversize,         kMissingFinal,       kRetransmissionDiffers, kRetransmitIntervals, kRolloverTo0,
    kRolloverTo1,      kSorcerer,           kSorcererCount,      kOackUnrequested,       kOackWithoutOptions,    kOackEmpty,
    kOackBlksizeRange, kOackBlksizeAbove,   kOackTimeoutRange,   kOackTimeoutNotEchoed,  kOackWindowsizeRange,
    kOackWindowsizeAbove, kOackTsizeRead,   kOackTsizeWrite,     kErrorRetransmitted,    kAckForError,
    kSentAfterError,   kSentAfterOwnError,
};

}  // namespace

std::span<const RuleSpec> rule_table() { return kTable; }

const RuleSpec* find_rule(std::string_view id) {
  auto it = std::find_if(kTable.begin(), kTable.end(), [&](const RuleSpec& r) { return r.id == id; });
  return it == kTable.end() ? nullptr : &*it;
}

}  // namespace tftp::check
