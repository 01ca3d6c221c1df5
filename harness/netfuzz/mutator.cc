#include "netfuzz/mutator.h"

#include <algorithm>
#include <iterator>

#include "proto/packet.h"

namespace tftp::netfuzz {

namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put_string(Bytes& b, const std::string& s, bool nul = true) {
  b.insert(b.end(), s.begin(), s.end());
  if (nul) b.push_back(0);
}

std::string digits(Rng& rng, size_t n) {
  std::string s(n, '0');
  for (auto& c : s) c = static_cast<char>('0' + rng.below(10));
  if (n > 1 && s[0] == '0') s[0] = '9';
  return s;
}

std::string bytes_text(Rng& rng, size_t n) {
  std::string s(n, 'A');
  for (auto& c : s) c = static_cast<char>(1 + rng.below(255));  // any byte but NUL
  return s;
}

// The request as fields, serialised with NULs that a mutation may leave out.
struct RequestFields {
  uint16_t opcode = 1;
  std::string file;
  std::string mode = "octet";
  std::vector<std::pair<std::string, std::string>> options;
  bool nul_after_file = true;
  bool nul_after_mode = true;
  bool final_nul = true;  // after the last option value
  bool drop_last_value = false;  // odd number of option strings
  Bytes serialise() const {
    Bytes b;
    put16(b, opcode);
    put_string(b, file, nul_after_file);
    put_string(b, mode, nul_after_mode || !options.empty());
    for (size_t i = 0; i < options.size(); ++i) {
      const bool last = i + 1 == options.size();
      put_string(b, options[i].first);
      if (last && drop_last_value) {
        if (!final_nul) b.pop_back();
        break;
      }
      put_string(b, options[i].second, !last || final_nul);
    }
    if (options.empty() && !final_nul && !b.empty() && nul_after_mode) b.pop_back();
    return b;
  }
};

constexpr const char* kOptionNames[] = {"blksize", "tsize", "timeout", "windowsize"};

std::pair<std::string, std::string> valid_option(Rng& rng, const char* name, bool rrq) {
  const std::string n = name;
  if (n == "blksize") return {n, std::to_string(rng.pick({8, 512, 1024, 1428, 1468}))};
  if (n == "tsize") return {n, rrq ? "0" : std::to_string(rng.below(4000))};
  if (n == "timeout") return {n, std::to_string(1 + rng.below(5))};
  return {n, std::to_string(1 + rng.below(4))};
}

}  // namespace

std::vector<uint8_t> mutate_request(Rng& rng, bool rrq, const std::string& file,
                                    const std::vector<proto::OwnedOption>& options, std::string& label) {
  RequestFields r;
  r.opcode = rrq ? 1 : 2;
  r.file = file;
  for (const auto& o : options) r.options.emplace_back(o.name, o.value);
  const auto any_option = [&]() -> std::pair<std::string, std::string>& {
    if (r.options.empty()) r.options.emplace_back("blksize", "512");
    return r.options[rng.below(r.options.size())];
  };
  switch (rng.below(19)) {
    case 0:
      r.opcode = rng.pick({uint16_t{0}, uint16_t{3}, uint16_t{4}, uint16_t{5}, uint16_t{6}, uint16_t{7}, uint16_t{0x0101},
                           uint16_t{0xffff}});
      label = "request: opcode " + std::to_string(r.opcode);
      break;
    case 1: {
      const size_t n = rng.pick({size_t{255}, size_t{256}, size_t{511}, size_t{512}, size_t{1024}, size_t{4096}, size_t{65000}});
      r.file = std::string(n, static_cast<char>('A' + rng.below(26)));
      label = "request: filename of " + std::to_string(n) + " bytes";
      break;
    }
    case 2:
      r.file = rng.pick({"", "/", ".", "..", "../../../../etc/passwd", "%n%n%n%s%s", "a\\..\\..\\b", "....//....//x",
                         "sub/", "/dev/zero", "f1024.bin/."});
      label = "request: filename \"" + r.file + "\"";
      break;
    case 3:
      r.mode = rng.pick({"", "OcTeT", "NETASCII", "mail", "binary", "octet ", "octe", "octetoctet"});
      if (rng.chance(3)) r.mode = std::string(rng.pick({size_t{256}, size_t{600}, size_t{5000}}), 'o');
      label = "request: mode of " + std::to_string(r.mode.size()) + " bytes \"" + r.mode.substr(0, 16) + "\"";
      break;
    case 4: {
      auto& o = any_option();
      o.second = digits(rng, 6 + rng.below(25));
      label = "request: " + o.first + " value of " + std::to_string(o.second.size()) + " digits";
      break;
    }
    case 5: {
      auto& o = any_option();
      o.second = rng.pick({"-1", "0x10", "+8", " 8", "", "8a", "1e3", "-0", "08", "\xff"});
      label = "request: " + o.first + " value \"" + o.second + "\"";
      break;
    }
    case 6: {
      auto& o = any_option();
      o.second = rng.pick({"0", "1", "7", "65465", "65535", "65536", "256", "4294967295", "4294967296",
                           "18446744073709551615", "18446744073709551616"});
      label = "request: " + o.first + " value " + o.second;
      break;
    }
    case 7:
      any_option();
      r.drop_last_value = true;
      label = "request: last option without its value";
      break;
    case 8: {
      const auto o = any_option();
      auto dup = o;
      if (rng.chance(2)) dup.second = valid_option(rng, kOptionNames[rng.below(std::size(kOptionNames))], rrq).second;
      if (rng.chance(2)) std::transform(dup.first.begin(), dup.first.end(), dup.first.begin(), ::toupper);
      r.options.push_back(dup);
      label = "request: option " + o.first + " twice";
      break;
    }
    case 9: {
      const size_t n = rng.pick({size_t{1}, size_t{16}, size_t{300}, size_t{4000}});
      r.options.emplace_back(rng.chance(2) ? std::string(n, 'z') : bytes_text(rng, n), digits(rng, 1 + rng.below(4)));
      label = "request: unknown option name of " + std::to_string(n) + " bytes";
      break;
    }
    case 10: {
      const size_t n = rng.pick({size_t{20}, size_t{100}, size_t{600}});
      for (size_t i = 0; i < n; ++i) r.options.push_back(valid_option(rng, kOptionNames[rng.below(std::size(kOptionNames))], rrq));
      label = "request: " + std::to_string(n) + " more options";
      break;
    }
    case 11:
      r.final_nul = false;
      label = "request: no final NUL";
      break;
    case 12:
      r.nul_after_file = false;
      label = "request: no NUL after the filename";
      break;
    case 13:
      r.nul_after_mode = false;
      r.options.clear();
      label = "request: no NUL after the mode, no options";
      break;
    case 14: {
      Bytes b = r.serialise();
      const size_t keep = rng.below(b.size());
      b.resize(keep);
      label = "request: truncated to " + std::to_string(keep) + " bytes";
      return b;
    }
    case 15: {
      Bytes b = r.serialise();
      const size_t flips = 1 + rng.below(4);
      for (size_t i = 0; i < flips; ++i) b[rng.below(b.size())] ^= static_cast<uint8_t>(1 + rng.below(255));
      label = "request: " + std::to_string(flips) + " bytes flipped";
      return b;
    }
    case 16: {
      Bytes b = r.serialise();
      const size_t n = rng.pick({size_t{1}, size_t{7}, size_t{600}, size_t{30000}});
      for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(rng.next()));
      label = "request: " + std::to_string(n) + " garbage bytes appended";
      return b;
    }
    case 17: {
      const char* name = rng.pick({"utimeout", "multicast", "blksize2", "msftwindow", "rollover", "tsize"});
      std::string value = rng.pick({"", "0", "1", "4294967296", "99999999999999999999", ",,1", "a,b,c"});
      r.options.emplace_back(name, value);
      label = std::string("request: option ") + name + "=\"" + value + "\"";
      break;
    }
    default: {
      // Every string very long at once: the 512-byte limit (RFC 2347) and any fixed buffer.
      r.file = std::string(300, 'f');
      r.mode = std::string(300, 'm');
      r.options.emplace_back(std::string(300, 'n'), std::string(300, '9'));
      label = "request: every field 300 bytes";
      break;
    }
  }
  return r.serialise();
}

std::vector<Datagram> mutate_packet(Rng& rng, const std::vector<uint8_t>& valid, size_t blksize, std::string& label) {
  const uint16_t op = static_cast<uint16_t>(valid[0] << 8 | valid[1]);
  const uint16_t block = static_cast<uint16_t>(valid[2] << 8 | valid[3]);
  const std::string what = op == 3 ? "DATA" : "ACK";
  Bytes b = valid;
  auto one = [&](Bytes bytes, Destination to = Destination::kServer) {
    return std::vector<Datagram>{Datagram{to, std::move(bytes), true}};
  };
  switch (rng.below(12)) {
    case 0: {
      const uint16_t wrong = rng.pick({static_cast<uint16_t>(block + 1), static_cast<uint16_t>(block + 2),
                                       static_cast<uint16_t>(block - 1), uint16_t{0}, uint16_t{65535},
                                       static_cast<uint16_t>(rng.next())});
      b[2] = static_cast<uint8_t>(wrong >> 8);
      b[3] = static_cast<uint8_t>(wrong);
      label = what + " " + std::to_string(wrong) + " instead of " + std::to_string(block);
      return one(b);
    }
    case 1: {
      const size_t keep = rng.below(4);
      b.resize(keep);
      label = what + " truncated to " + std::to_string(keep) + " bytes";
      return one(b);
    }
    case 2: {
      const size_t n = rng.pick({size_t{1}, size_t{2}, size_t{100}, size_t{1500}});
      for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(rng.next()));
      label = what + " with " + std::to_string(n) + " trailing bytes";
      return one(b);
    }
    case 3: {
      const uint16_t wrong = rng.pick({uint16_t{0}, uint16_t{1}, uint16_t{2}, uint16_t{3}, uint16_t{4}, uint16_t{6},
                                       uint16_t{7}, uint16_t{0xff04}});
      b[0] = static_cast<uint8_t>(wrong >> 8);
      b[1] = static_cast<uint8_t>(wrong);
      label = what + " with opcode " + std::to_string(wrong);
      return one(b);
    }
    case 4: {
      Bytes e;
      put16(e, 5);
      const uint16_t code = rng.pick({uint16_t{0}, uint16_t{4}, uint16_t{8}, uint16_t{9}, uint16_t{0xffff}});
      switch (rng.below(4)) {
        case 0: e.resize(rng.pick({size_t{2}, size_t{3}})); label = "ERROR of " + std::to_string(e.size()) + " bytes"; break;
        case 1: put16(e, code); label = "ERROR " + std::to_string(code) + " without a message or NUL"; break;
        case 2: put16(e, code); put_string(e, bytes_text(rng, 40), false); label = "ERROR " + std::to_string(code) + " message without NUL"; break;
        default: put16(e, code); put_string(e, std::string(rng.pick({size_t{600}, size_t{60000}}), 'E'));
                 label = "ERROR " + std::to_string(code) + " with a message of " + std::to_string(e.size() - 5) + " bytes";
      }
      return one(e);
    }
    case 5: {
      Bytes g(rng.pick({size_t{0}, size_t{1}, size_t{5}, size_t{64}, size_t{1024}, size_t{65507}}));
      for (auto& c : g) c = static_cast<uint8_t>(rng.next());
      label = "garbage datagram of " + std::to_string(g.size()) + " bytes";
      return one(g);
    }
    case 6: {
      // DATA larger than the negotiated blksize (RFC 2348), or a DATA where an ACK belongs.
      Bytes d;
      put16(d, 3);
      put16(d, op == 3 ? block : static_cast<uint16_t>(block + 1));
      const size_t n = rng.pick({blksize + 1, blksize + 100, size_t{65464}, size_t{65500}});
      d.resize(4 + std::min<size_t>(n, 65503), 'x');
      label = "DATA " + std::to_string(d[2] << 8 | d[3]) + " of " + std::to_string(d.size() - 4) + " bytes (blksize " +
              std::to_string(blksize) + ")";
      return one(d);
    }
    case 7: {
      Bytes d;
      put16(d, 3);
      put16(d, block);
      d.resize(rng.pick({size_t{2}, size_t{3}, size_t{4}}));
      label = "DATA of " + std::to_string(d.size()) + " bytes";
      return one(d);
    }
    case 8: {
      const size_t n = 2 + rng.below(3);
      label = what + " " + std::to_string(block) + " sent " + std::to_string(n) + " times";
      std::vector<Datagram> out(n, Datagram{Destination::kServer, b, false});
      out.back().await = true;
      return out;
    }
    case 9: {
      Bytes r;
      put16(r, rng.pick({uint16_t{1}, uint16_t{2}}));
      put_string(r, "f1.bin");
      put_string(r, "octet");
      label = "a request sent to the transfer's port";
      return one(r);
    }
    case 10:
      label = what + " " + std::to_string(block) + " sent to the well-known port";
      return one(b, Destination::kListen);
    default: {
      const size_t flips = 1 + rng.below(3);
      for (size_t i = 0; i < flips; ++i) b[rng.below(b.size())] ^= static_cast<uint8_t>(1 + rng.below(255));
      label = what + " with " + std::to_string(flips) + " bytes flipped";
      return one(b);
    }
  }
}

CaseDriver::CaseDriver(uint64_t seed, uint64_t number, MutatorConfig config)
    : rng_(case_seed(seed, number)), config_(std::move(config)) {
  case_.number = number;
  rrq_ = !config_.writes || rng_.below(3) != 0;
  for (const char* name : kOptionNames) {
    if (rng_.chance(2)) {
      auto [n, v] = valid_option(rng_, name, rrq_);
      options_.push_back({n, v});
    }
  }
  switch (rng_.below(16)) {
    case 0: target_ = Target::kNone; break;
    case 1: case 2: case 3: case 4: case 5: case 6: target_ = Target::kRequest; break;
    case 7: case 8: case 9: target_ = options_.empty() ? Target::kMidTransfer : Target::kAfterOack; break;
    default: target_ = Target::kMidTransfer;
  }
  mutate_after_ = 1 + rng_.below(3);
  tail_ = static_cast<int>(rng_.below(3));
  upload_size_ = rng_.pick({size_t{0}, size_t{1}, size_t{511}, size_t{512}, size_t{1000}, size_t{3000}});
  case_.state = "none";
  case_.mutation = "none (a valid exchange)";
}

std::optional<Datagram> CaseDriver::emit(Datagram d) {
  if (d.to == Destination::kServer && !server_known_) return finish(false);
  case_.datagrams.push_back(d);
  return d;
}

std::optional<Datagram> CaseDriver::finish(bool cleanup) {
  if (ended_) return std::nullopt;
  ended_ = true;
  if (!cleanup || !server_known_) return std::nullopt;
  // End the target's transfer, so it does not retransmit for a minute and pile up sessions
  // (RFC 1350 §7: an ERROR terminates it).
  Bytes e;
  put16(e, 5);
  put16(e, 0);
  put_string(e, "tftpspec fuzz: case over");
  Datagram d{Destination::kServer, std::move(e), false};
  case_.datagrams.push_back(d);
  return d;
}

std::vector<uint8_t> CaseDriver::upload_block(uint16_t block) const {
  const size_t offset = (block - 1u) * blksize_;
  const size_t n = offset >= upload_size_ ? 0 : std::min(blksize_, upload_size_ - offset);
  Bytes d;
  put16(d, 3);
  put16(d, block);
  for (size_t i = 0; i < n; ++i) d.push_back(static_cast<uint8_t>('a' + (offset + i) % 26));
  return d;
}

void CaseDriver::mutate(std::vector<uint8_t> valid, const char* state) {
  std::string label;
  auto out = mutate_packet(rng_, valid, blksize_, label);
  case_.state = state;
  case_.mutation = std::string(state) + ": " + label;
  mutated_ = true;
  for (auto& d : out) pending_.push_back(std::move(d));
}

std::optional<Datagram> CaseDriver::next(std::optional<std::span<const uint8_t>> reply) {
  if (ended_) return std::nullopt;
  if (!pending_.empty()) {
    auto d = std::move(pending_.front());
    pending_.pop_front();
    return emit(std::move(d));
  }
  if (case_.datagrams.size() >= config_.max_datagrams) return finish(true);
  if (!started_) {
    started_ = true;
    const std::string file = rrq_ ? config_.read_file : config_.write_prefix + "-" + std::to_string(case_.number) + ".bin";
    Bytes request;
    if (target_ == Target::kRequest) {
      std::string label;
      request = mutate_request(rng_, rrq_, file, options_, label);
      case_.state = "request";
      case_.mutation = std::string(rrq_ ? "RRQ " : "WRQ ") + label;
      mutated_ = true;
    } else {
      const auto views = proto::views_of(options_);
      request.resize(proto::kMaxRequestSize * 4);
      auto n = proto::write_request(request, rrq_ ? proto::Opcode::kRrq : proto::Opcode::kWrq, file, "octet", views);
      request.resize(n ? *n : 0);
    }
    return emit(Datagram{Destination::kListen, std::move(request), true});
  }
  if (!reply) return finish(true);
  server_known_ = true;  // something answered: the executor knows the target's TID now
  auto p = proto::parse(*reply, proto::Strictness::kLenient);
  if (!p) return finish(true);
  Bytes valid;
  bool last = false;        // the valid packet ends the transfer
  bool oack = false;
  if (const auto* o = std::get_if<proto::Oack>(&*p)) {
    oack = true;
    if (auto b = o->options.find(proto::kBlksize)) {
      if (auto v = proto::parse_decimal(*b); v && proto::blksize_in_range(*v)) blksize_ = static_cast<size_t>(*v);
    }
    if (rrq_) {
      put16(valid, 4);
      put16(valid, 0);
    } else {
      valid = upload_block(1);
    }
  } else if (const auto* d = std::get_if<proto::Data>(&*p); d && rrq_) {
    put16(valid, 4);
    put16(valid, d->block);
    last = d->payload.size() < blksize_;
  } else if (const auto* a = std::get_if<proto::Ack>(&*p); a && !rrq_) {
    const size_t sent_blocks = upload_size_ / blksize_ + 1;  // the last one short (maybe empty)
    if (a->block >= sent_blocks) return finish(false);       // the upload is complete
    valid = upload_block(static_cast<uint16_t>(a->block + 1));
  } else {
    return finish(false);  // an ERROR ends the transfer; anything else: nothing sensible to answer
  }
  ++replies_;
  if (!mutated_) {
    const bool now = (target_ == Target::kAfterOack) || (target_ == Target::kMidTransfer && replies_ >= mutate_after_) ||
                     (target_ == Target::kMidTransfer && last);
    if (now) {
      mutate(std::move(valid), oack ? "after-oack" : "mid-transfer");
      auto d = std::move(pending_.front());
      pending_.pop_front();
      return emit(std::move(d));
    }
  } else if (tail_-- <= 0) {
    return finish(true);
  }
  if (last) {
    Datagram d{Destination::kServer, std::move(valid), false};
    auto out = emit(std::move(d));
    ended_ = true;
    return out;
  }
  return emit(Datagram{Destination::kServer, std::move(valid), true});
}

}  // namespace tftp::netfuzz
