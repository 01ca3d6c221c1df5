// Every rule the engine judges, in one table: find a rule from its id here, then read it in
// the family file named beside it. An id is stable and names one rule; a finding carries it.
//
// Levels follow the RFC's word for the requirement (RFC 2119; the lowercase "must" and
// "should" of the pre-2119 RFCs 1350 and 1123 count as the same words): a broken MUST is
// kMust (the scenario fails), a broken SHOULD is kShould (it warns), and behaviour the RFCs
// only describe, encourage or leave free is kNote (shown on a pass, never a warn).
#pragma once

#include <span>
#include <string_view>

#include "check/rules.h"

namespace tftp::check {

struct RuleSpec {
  std::string_view id;           // stable: "tftp.rule.<what>" (judged) or "tftp.note.<what>"
  std::string_view requirement;  // checklist id
  std::string_view citation;
  Level level;
  // What the server does wrong, stable and free of block numbers, times and ports: one bug
  // seen in many transfers or scenarios deduplicates by (id, cause).
  std::string_view cause;
  std::string_view family;         // the file under harness/check/ that judges it
  std::string_view category = {};  // "security" for a file served or written outside the root
                                   // (no rule here judges that yet, so none carries it)
};

namespace rule {

inline constexpr std::string_view kRfc2347 = "RFC 2347, Negotiation Protocol";
inline constexpr std::string_view kRfc2348 = "RFC 2348, Blocksize Option Specification";
inline constexpr std::string_view kRfc2349Timeout = "RFC 2349, Timeout Interval Option Specification";
inline constexpr std::string_view kRfc2349Tsize = "RFC 2349, Transfer Size Option Specification";

// --- rules_format.cc: RFC 1350 §5 gives the packet formats; a server's datagram is one of them.
inline constexpr RuleSpec kMalformedError{"tftp.rule.malformed_error", "T1350-ERR-FMT", "RFC 1350 §5", Level::kMust, "sends a malformed ERROR", "rules_format.cc"};
inline constexpr RuleSpec kMalformedOack{"tftp.rule.malformed_oack", "T2347-FMT", "RFC 2347, Packet Formats", Level::kMust, "sends a malformed OACK", "rules_format.cc"};
inline constexpr RuleSpec kDataTooLong{"tftp.rule.data_datagram_too_long", "T2348-RANGE", kRfc2348, Level::kMust, "sends a DATA longer than any block size", "rules_format.cc"};
inline constexpr RuleSpec kMalformedPacket{"tftp.rule.malformed_packet", "T1350-PKT-FMT", "RFC 1350 §5", Level::kMust, "sends a malformed datagram", "rules_format.cc"};
// RFC 1350 Appendix lists codes 0..7 and RFC 2347 adds 8. Neither says a server must not use
// another one ("Not defined, see error message" is code 0), so an undefined code is a note.
inline constexpr RuleSpec kErrorCodeUndefined{"tftp.note.error_code_undefined", "T1350-ERR-FMT", "RFC 1350 Appendix", Level::kNote, "uses an undefined ERROR code", "rules_format.cc"};

// --- rules_tid.cc: transfer identifiers (RFC 1350 §4).
// RFC 1350 §4 only describes the reply "under normal operation" as using "a TID chosen by the
// server", and says TIDs "should be randomly chosen": how a server picks its TID is what the
// RFC encourages, not a requirement broken, so answering from the listen port is a note.
inline constexpr RuleSpec kReplyFromListenPort{"tftp.note.reply_from_listen_port", "T1350-TID-NEW", "RFC 1350 §4", Level::kNote, "serves transfers from the listen port", "rules_tid.cc"};
// RFC 1350 §2/§4: a wrong source TID is the one error that does not end the transfer; the
// stray is discarded "while not disturbing the transfer".
inline constexpr RuleSpec kStrayDisturbed{"tftp.rule.stray_disturbed_transfer", "T1350-TID-STRAY", "RFC 1350 §2, §4", Level::kMust, "ends a transfer because of a stray datagram", "rules_tid.cc"};
inline constexpr RuleSpec kStrayAccepted{"tftp.rule.stray_accepted", "T1350-TID-STRAY", "RFC 1350 §4", Level::kMust, "answers a stray TID as if it were the peer", "rules_tid.cc"};
// RFC 1350 §4: "An error packet should be sent to the source of the incorrect packet".
inline constexpr RuleSpec kStrayNotAnswered{"tftp.rule.stray_not_answered", "T1350-TID-STRAY", "RFC 1350 §4", Level::kShould, "does not answer a stray TID with an ERROR", "rules_tid.cc"};
// ... unless "the supporting protocols do not allow it" (a connect()ed socket never sees it).
inline constexpr RuleSpec kStrayNotSeen{"tftp.note.stray_not_answered", "T1350-TID-STRAY", "RFC 1350 §4", Level::kNote, "never answers stray TIDs", "rules_tid.cc"};

// --- rules_data.cc: the DATA stream of a read.
// RFC 1350 §2: each DATA "must be acknowledged by an acknowledgment packet before the next packet can be sent".
inline constexpr RuleSpec kLockstep{"tftp.rule.lockstep_violation", "T1350-LOCKSTEP", "RFC 1350 §2", Level::kMust, "sends DATA before the previous block was acknowledged", "rules_data.cc"};
// RFC 2347: after an OACK to an RRQ the client's ACK 0 starts the transfer.
inline constexpr RuleSpec kDataBeforeAck0{"tftp.rule.data_before_oack_ack", "T2347-CLIENT-ACK0", kRfc2347, Level::kMust, "sends DATA 1 before ACK 0 of its OACK", "rules_data.cc"};
// RFC 7440 §4: the sender sends windowsize blocks, then stops and waits for the ACK of the window.
inline constexpr RuleSpec kWindow{"tftp.rule.window_overrun", "T7440-WINDOW", "RFC 7440 §4", Level::kMust, "sends more than a window before an ACK", "rules_data.cc"};
// RFC 1350 §5: "block numbers on data packets begin with one and increase by one".
inline constexpr RuleSpec kBlockSequence{"tftp.rule.block_sequence", "T1350-BLK-SEQ", "RFC 1350 §5", Level::kMust, "skips or restarts block numbers", "rules_data.cc"};
// ... and an ACK of a block never sent acknowledges nothing (RFC 1350 §2: each DATA "must be
// acknowledged ... before the next packet can be sent"): skipping to it leaves a hole.
inline constexpr RuleSpec kSkipOnUnsentAck{"tftp.rule.skip_on_unsent_ack", "T1350-BLK-SEQ", "RFC 1350 §2, §5", Level::kMust, "skips ahead when the client acknowledges a block not yet sent", "rules_data.cc"};
// The receiving side of a write: an ACK tells the client a block arrived, so an ACK for a
// block the client never sent (ahead of its DATA, or past the final one) loses data.
inline constexpr RuleSpec kAckForUnsentData{"tftp.rule.ack_for_unsent_data", "T1350-BLK-SEQ", "RFC 1350 §2, §5", Level::kMust, "acknowledges a block the client never sent", "rules_data.cc"};
// RFC 1350 §6 (and RFC 2348): a DATA shorter than the block size ends the transfer.
inline constexpr RuleSpec kDataAfterFinal{"tftp.rule.data_after_final", "T1350-END-SHORT", "RFC 1350 §6", Level::kMust, "sends DATA after the final short block", "rules_data.cc"};
// RFC 1350 §5: "The data field is from zero to 512 bytes long"; RFC 2348 replaces 512 by blksize.
inline constexpr RuleSpec kOversize{"tftp.rule.oversize_data", "T2348-NEG", kRfc2348, Level::kMust, "sends DATA larger than the block size", "rules_data.cc"};
// RFC 1350 §6: only a DATA of 0..blksize-1 bytes ends a transfer, so a full last block needs a 0-byte one.
inline constexpr RuleSpec kMissingFinal{"tftp.rule.missing_final_block", "T1350-END-ZERO", "RFC 1350 §6", Level::kMust, "omits the 0-byte final block after a full last block", "rules_data.cc"};
// RFC 1350 §2: on timeout the sender retransmits "that lost packet", not different bytes.
inline constexpr RuleSpec kRetransmissionDiffers{"tftp.rule.retransmission_differs", "T1350-RTX", "RFC 1350 §2", Level::kMust, "retransmits a block with different contents", "rules_data.cc"};
// RFC 1123 §4.2.3.2 asks for an adaptive timeout but fixes no interval: what was seen is a note.
inline constexpr RuleSpec kRetransmitIntervals{"tftp.note.retransmit_intervals", "T1123-RTO", "RFC 1123 §4.2.3.2", Level::kNote, "retransmits on a timer", "rules_data.cc"};
// The RFCs do not say what follows block 65535; 0 and 1 are both in use.
inline constexpr RuleSpec kRolloverTo0{"tftp.note.rollover_to_0", "DF-ROLLOVER", "RFC 1350 §5 (de facto)", Level::kNote, "wraps block numbers to 0", "rules_data.cc"};
inline constexpr RuleSpec kRolloverTo1{"tftp.note.rollover_to_1", "DF-ROLLOVER", "RFC 1350 §5 (de facto)", Level::kNote, "wraps block numbers to 1", "rules_data.cc"};

// --- rules_sas.cc: RFC 1123 §4.2.3.1, the sender "must never resend the current DATA packet
// on receipt of a duplicate ACK".
inline constexpr RuleSpec kSorcererCount{"tftp.rule.sorcerers_apprentice_count", "T1123-SAS", "RFC 1123 §4.2.3.1", Level::kMust, "sends more DATA than the ACKs and its timer explain", "rules_sas.cc"};
inline constexpr RuleSpec kSorcerer{"tftp.rule.sorcerers_apprentice", "T1123-SAS", "RFC 1123 §4.2.3.1", Level::kMust, "resends DATA on a duplicate ACK", "rules_sas.cc"};


// --- rules_oack.cc: option negotiation (validated by engine::review_oack, the one home).
// RFC 2347: "The server must not include in the OACK any option which had not been specifically requested".
inline constexpr RuleSpec kOackUnrequested{"tftp.rule.oack_unrequested_option", "T2347-OACK", kRfc2347, Level::kMust, "puts an unrequested option in the OACK", "rules_oack.cc"};
inline constexpr RuleSpec kOackWithoutOptions{"tftp.rule.oack_without_options", "T2347-UNKNOWN", kRfc2347, Level::kMust, "answers a request without options with an OACK", "rules_oack.cc"};
// RFC 2347: "Options which the server does not support should be omitted from the OACK"; with
// every option omitted the server answers as to a plain request, not with an empty OACK.
inline constexpr RuleSpec kOackEmpty{"tftp.rule.oack_empty", "T2347-UNKNOWN", kRfc2347, Level::kShould, "answers with an OACK that acknowledges no option", "rules_oack.cc"};
// RFC 2348: blksize is 8..65464, and the OACK value "must be less than or equal to" the requested one.
inline constexpr RuleSpec kOackBlksizeRange{"tftp.rule.oack_blksize_range", "T2348-RANGE", kRfc2348, Level::kMust, "announces a blksize outside 8..65464", "rules_oack.cc"};
inline constexpr RuleSpec kOackBlksizeAbove{"tftp.rule.oack_blksize_above_request", "T2348-NEG", kRfc2348, Level::kMust, "announces a blksize above the requested one", "rules_oack.cc"};
// RFC 2349: timeout is 1..255 and the OACK "must match the value specified by the client".
inline constexpr RuleSpec kOackTimeoutRange{"tftp.rule.oack_timeout_range", "T2349-TIMEOUT", kRfc2349Timeout, Level::kMust, "announces a timeout outside 1..255", "rules_oack.cc"};
inline constexpr RuleSpec kOackTimeoutNotEchoed{"tftp.rule.oack_timeout_not_echoed", "T2349-TIMEOUT", kRfc2349Timeout, Level::kMust, "does not echo the requested timeout", "rules_oack.cc"};
// RFC 7440 §3: windowsize is 1..65535 and the OACK value "MUST be less than or equal to" the requested one.
inline constexpr RuleSpec kOackWindowsizeRange{"tftp.rule.oack_windowsize_range", "T7440-RANGE", "RFC 7440 §3", Level::kMust, "announces a windowsize outside 1..65535", "rules_oack.cc"};
inline constexpr RuleSpec kOackWindowsizeAbove{"tftp.rule.oack_windowsize_above_request", "T7440-RANGE", "RFC 7440 §3", Level::kMust, "announces a windowsize above the requested one", "rules_oack.cc"};
// RFC 2349: an RRQ's OACK returns the size of the file in octets; a WRQ's echoes the client's size.
inline constexpr RuleSpec kOackTsizeRead{"tftp.rule.oack_tsize_wrong_size", "T2349-TSIZE-R", kRfc2349Tsize, Level::kMust, "announces a tsize other than the bytes sent", "rules_oack.cc"};
inline constexpr RuleSpec kOackTsizeWrite{"tftp.rule.oack_tsize_not_echoed", "T2349-TSIZE-W", kRfc2349Tsize, Level::kMust, "does not echo the tsize of a write", "rules_oack.cc"};

// --- rules_errors.cc: ERROR and termination.
// RFC 1350 §7: an ERROR "will not be retransmitted or acknowledged".
inline constexpr RuleSpec kErrorRetransmitted{"tftp.rule.error_retransmitted", "T1350-ERR-NORTX", "RFC 1350 §7", Level::kMust, "retransmits an ERROR", "rules_errors.cc"};
inline constexpr RuleSpec kAckForError{"tftp.rule.ack_for_error", "T1350-ERR-NORTX", "RFC 1350 §7", Level::kMust, "acknowledges an ERROR", "rules_errors.cc"};
// RFC 1350 §2: "Most errors cause termination of the connection" (all but a wrong source TID).
inline constexpr RuleSpec kSentAfterError{"tftp.rule.sent_after_error", "T1350-ERR-TERM", "RFC 1350 §2", Level::kMust, "keeps sending after the client ended the transfer with ERROR", "rules_errors.cc"};
inline constexpr RuleSpec kSentAfterOwnError{"tftp.rule.sent_after_own_error", "T1350-ERR-TERM", "RFC 1350 §2", Level::kMust, "keeps sending after its own ERROR", "rules_errors.cc"};

}  // namespace rule

// Every rule above, in the order listed.
std::span<const RuleSpec> rule_table();
// The rule with this id, or nullptr.
const RuleSpec* find_rule(std::string_view id);

}  // namespace tftp::check
