#include "scenario/reference_faults.h"

namespace tftp::scenario {

const std::vector<ReferenceFault>& reference_faults() {
  using C = server::ServerConfig;
  static const std::vector<ReferenceFault> kAll = {
      {"no_final_empty_block", "RFC 1350 §6: no zero-length DATA after a full block (nor for an empty file)",
       [](C& c) { c.transfer.faults.no_final_empty_block = true; }},
      {"corrupt_data", "RFC 1350 §5: DATA payloads after block 1 have their last byte flipped",
       [](C& c) { c.transfer.faults.corrupt_data = true; }},
      {"resend_on_duplicate_ack", "RFC 1123 §4.2.3.1: DATA re-sent on a duplicate ACK (Sorcerer's Apprentice)",
       [](C& c) { c.transfer.faults.resend_on_duplicate_ack = true; }},
      {"resend_on_stale_ack", "RFC 1123 §4.2.3.1: an ACK older than the last one brings the current DATA again",
       [](C& c) { c.transfer.faults.resend_on_stale_ack = true; }},
      {"accept_stray_tid", "RFC 1350 §4: datagrams from any port are taken as the peer's",
       [](C& c) { c.transfer.faults.accept_stray_tid = true; }},
      {"no_error_to_stray_tid", "RFC 1350 §4: no ERROR 5 to a wrong TID",
       [](C& c) { c.transfer.faults.no_error_to_stray_tid = true; }},
      {"no_retransmission", "RFC 1350 §2: nothing is retransmitted on timeout",
       [](C& c) { c.transfer.faults.no_retransmission = true; }},
      {"fixed_retransmit_timer", "RFC 1123 §4.2.3.2: a fixed timer, the same 1 s every time: no backoff, no round-trip estimation",
       [](C& c) {
         c.transfer.retransmit.min = c.transfer.retransmit.initial;
         c.transfer.retransmit.max = c.transfer.retransmit.initial;
       }},
      {"no_backoff", "RFC 1123 §4.2.3.2 (IMPLEMENTATION): the timer follows the round trip but never backs off on retransmission",
       [](C& c) { c.transfer.retransmit.max = c.transfer.retransmit.min; }},
      {"no_dally", "RFC 1350 §6: the final ACK is not repeated for a repeated final DATA",
       [](C& c) { c.transfer.faults.no_dally = true; }},
      {"ignore_peer_error", "RFC 1350 §7: the transfer goes on after the client's ERROR",
       [](C& c) { c.transfer.faults.ignore_peer_error = true; }},
      {"unsolicited_window", "RFC 1350 §2: two DATA per ACK without a negotiated windowsize",
       [](C& c) { c.transfer.faults.unsolicited_window = true; }},
      {"data_before_oack_ack", "RFC 2347: DATA 1 sent before the client's ACK 0 of the OACK",
       [](C& c) { c.transfer.faults.data_before_oack_ack = true; }},
      {"window_as_lockstep", "RFC 7440: windowsize granted, but one DATA per ACK",
       [](C& c) { c.transfer.faults.window_as_lockstep = true; }},
      {"no_rewind", "RFC 7440 §4: after a partial ACK the window resumes past the lost blocks",
       [](C& c) { c.transfer.faults.no_rewind = true; }},
      {"ignore_window_loss_ack", "RFC 7440 §4: the ACK repeated when a window's first block is lost is ignored until the timer fires",
       [](C& c) { c.transfer.faults.ignore_window_loss_ack = true; }},
      {"window_past_loss", "RFC 7440 §4: the ACK repeated when a window's first block is lost brings the next window, past the loss",
       [](C& c) { c.transfer.faults.window_past_loss = true; }},
      {"no_gap_ack", "RFC 7440 §4: a receiver missing a window's first block does not ACK the last block it has until its timer fires",
       [](C& c) { c.transfer.faults.no_gap_ack = true; }},
      {"data_after_short_final", "RFC 1350 §6: one more empty DATA follows the ACK of the final, short one",
       [](C& c) { c.transfer.faults.data_after_short_final = true; }},
      {"wrq_acked_with_1", "RFC 1350 §4: a granted WRQ is answered with ACK 1 instead of ACK 0",
       [](C& c) { c.transfer.faults.wrq_acked_with_1 = true; }},
      {"duplicate_data_advances", "RFC 1350 §2: a repeated DATA during an upload is taken (and ACKed) as the next block",
       [](C& c) { c.transfer.faults.duplicate_data_advances = true; }},
      {"jump_on_future_ack", "RFC 1350 §2, §5: an ACK for a block not yet sent makes the server skip ahead to it",
       [](C& c) { c.transfer.faults.jump_on_future_ack = true; }},
      {"serve_long_names", "RFC 1350 §5: a filename over 255 bytes is cut to nothing and served as an empty file",
       [](C& c) { c.faults.serve_long_names = true; }},
      {"oack_window_zero", "RFC 7440 §3: the OACK grants windowsize 0",
       [](C& c) { c.faults.oack_window_zero = true; }},
      {"rollover_to_1", "de facto: block numbers wrap from 65535 to 1 instead of 0 (allowed: a note, not a fault)",
       [](C& c) { c.transfer.rollover_block = 1; }},
      {"answer_from_listen_port", "RFC 1350 §4: replies come from the well-known port (no new TID)",
       [](C& c) { c.faults.answer_from_listen_port = true; }},
      {"wrong_error_codes", "RFC 1350 §5: every refusal is ERROR 0", [](C& c) { c.faults.wrong_error_codes = true; }},
      {"error_retransmitted", "RFC 1350 §7: an ERROR refusing a request is sent twice",
       [](C& c) { c.faults.error_retransmitted = true; }},
      {"oack_unrequested_option", "RFC 2347: the OACK adds tsize nobody asked for",
       [](C& c) { c.faults.oack_unrequested_option = true; }},
      {"oack_off_by_one", "RFC 2348/2349/7440: every OACK value is one more than granted",
       [](C& c) { c.faults.oack_off_by_one = true; }},
      {"echo_any_option", "RFC 2347/2348/2349/7440: the OACK echoes unknown options and invalid values",
       [](C& c) { c.faults.echo_any_option = true; }},
      {"ignore_options", "(allowed by RFC 2347) options are ignored: option scenarios skip",
       [](C& c) { c.faults.ignore_options = true; }},
      {"accept_mail_mode", "RFC 1123 §4.2.2.1: mode mail is accepted", [](C& c) { c.faults.accept_mail_mode = true; }},
      {"allow_traversal", "RFC 1123 §4.2.3.4: paths with '..' or a leading '/' are served and written",
       [](C& c) { c.faults.allow_traversal = true; }},
      {"silent_on_malformed", "RFC 1350 §5, §7: bad requests, modes and stray opcodes get no ERROR",
       [](C& c) { c.faults.silent_on_malformed = true; }},
      {"mode_case_sensitive", "RFC 1350 §5: mode names are matched case-sensitively",
       [](C& c) { c.faults.mode_case_sensitive = true; }},
      {"options_case_sensitive", "RFC 2347: option names are matched case-sensitively",
       [](C& c) { c.faults.options_case_sensitive = true; }},
      {"netascii_as_octet", "RFC 1350 §1: netascii is sent without CR LF conversion",
       [](C& c) { c.faults.netascii_as_octet = true; }},
      {"overwrite_existing", "RFC 1350 §5: a WRQ replaces an existing file instead of ERROR 6",
       [](C& c) { c.faults.overwrite_existing = true; }},
      {"serve_directories", "RFC 1350 §1: a directory name is served as an empty file",
       [](C& c) { c.faults.serve_directories = true; }},
      {"drop_empty_uploads", "RFC 1350 §6: an empty upload is acknowledged but no file is created",
       [](C& c) { c.faults.drop_empty_uploads = true; }},
      {"one_session_per_host", "RFC 1350 §4: sessions are told apart by the client's host, not its TID: a new request ends the host's other transfers",
       [](C& c) { c.faults.one_session_per_host = true; }},
      {"truncate_uploads", "RFC 1350 §6: the last DATA of an upload is ACKed but not stored",
       [](C& c) { c.faults.truncate_uploads = true; }},
      {"no_subdirectories", "de facto (PXE): a name with a '/' inside, as sub/f511.bin, is not found",
       [](C& c) { c.faults.no_subdirectories = true; }},
  };
  return kAll;
}

const ReferenceFault* find_reference_fault(const std::string& name) {
  for (const auto& f : reference_faults()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace tftp::scenario
