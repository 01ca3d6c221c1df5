#include "proto/packet.h"

#include <algorithm>
#include <cstring>

#include "common/text.h"

namespace tftp::proto {
namespace {

tl::unexpected<ParseError> fail(ParseErrc code, size_t offset) {
  return tl::unexpected<ParseError>(ParseError{code, offset});
}

uint16_t read_u16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}

// Finds the NUL ending the string that starts at `at`; npos when there is none.
size_t find_nul(std::span<const uint8_t> b, size_t at) {
  if (at >= b.size()) return std::string_view::npos;
  const void* nul = std::memchr(b.data() + at, 0, b.size() - at);
  return nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - b.data()) : std::string_view::npos;
}

std::string_view view(std::span<const uint8_t> b, size_t from, size_t to) {
  return {reinterpret_cast<const char*>(b.data()) + from, to - from};
}

// Validates name\0value\0 pairs from `at` to the end of the datagram.
tl::expected<OptionsView, ParseError> parse_options(std::span<const uint8_t> b, size_t at) {
  const size_t start = at;
  while (at < b.size()) {
    const size_t name_end = find_nul(b, at);
    if (name_end == std::string_view::npos) return fail(ParseErrc::kUnterminatedOptionName, at);
    if (name_end == at) return fail(ParseErrc::kEmptyOptionName, at);
    const size_t value_at = name_end + 1;
    if (value_at >= b.size()) return fail(ParseErrc::kMissingOptionValue, value_at);
    const size_t value_end = find_nul(b, value_at);
    if (value_end == std::string_view::npos) return fail(ParseErrc::kUnterminatedOptionValue, value_at);
    at = value_end + 1;
  }
  return OptionsView(b.subspan(start));
}

tl::expected<Packet, ParseError> parse_request(std::span<const uint8_t> b, Opcode op, Strictness s) {
  if (s == Strictness::kStrict && b.size() > kMaxRequestSize) return fail(ParseErrc::kRequestTooLong, kMaxRequestSize);
  const size_t name_end = find_nul(b, 2);
  if (name_end == std::string_view::npos) return fail(ParseErrc::kUnterminatedFilename, 2);
  if (name_end == 2) return fail(ParseErrc::kEmptyFilename, 2);
  const size_t mode_at = name_end + 1;
  const size_t mode_end = find_nul(b, mode_at);
  if (mode_end == std::string_view::npos) return fail(ParseErrc::kUnterminatedMode, mode_at);
  if (mode_end == mode_at) return fail(ParseErrc::kEmptyMode, mode_at);
  auto options = parse_options(b, mode_end + 1);
  if (!options) return tl::unexpected(options.error());
  const auto mode_text = view(b, mode_at, mode_end);
  return Request{op, view(b, 2, name_end), mode_text, mode_from_text(mode_text), *options};
}

tl::expected<Packet, ParseError> parse_error_packet(std::span<const uint8_t> b, Strictness s) {
  if (b.size() < 4) return fail(ParseErrc::kTruncatedErrorCode, b.size());
  const size_t msg_end = find_nul(b, 4);
  if (msg_end == std::string_view::npos) return fail(ParseErrc::kUnterminatedErrorMessage, 4);
  if (s == Strictness::kStrict && msg_end + 1 != b.size()) return fail(ParseErrc::kTrailingBytes, msg_end + 1);
  return ErrorPacket{read_u16(b, 2), view(b, 4, msg_end)};
}

// Serialisation helper: a bounds-checked cursor over the caller's buffer.
class Writer {
 public:
  explicit Writer(std::span<uint8_t> out) : out_(out) {}
  void u16(uint16_t v) {
    if (!room(2)) return;
    out_[pos_++] = static_cast<uint8_t>(v >> 8);
    out_[pos_++] = static_cast<uint8_t>(v & 0xff);
  }
  void bytes(std::span<const uint8_t> b) {
    if (!room(b.size())) return;
    if (!b.empty()) std::memcpy(out_.data() + pos_, b.data(), b.size());
    pos_ += b.size();
  }
  void cstring(std::string_view s) {
    // find(), not memchr(): a default string_view has a null data(), which memchr must not get.
    if (s.find('\0') != std::string_view::npos) error_ = ParseErrc::kInvalidField;
    bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    const uint8_t nul = 0;
    bytes({&nul, 1});
  }
  WriteResult finish() const {
    if (error_) return fail(*error_, pos_);
    return pos_;
  }

 private:
  bool room(size_t n) {
    if (error_) return false;
    if (out_.size() - pos_ < n) {
      error_ = ParseErrc::kBufferTooSmall;
      return false;
    }
    return true;
  }
  std::span<uint8_t> out_;
  size_t pos_ = 0;
  std::optional<ParseErrc> error_;
};

std::string quoted(std::string_view s) { return quote(s); }

void append_options(std::string& out, const OptionsView& options) {
  for (const Option o : options) {
    out += ' ';
    append_quoted(out, o.name);
    out += '=';
    append_quoted(out, o.value);
  }
}

// Options written one by one (each checked for NUL like any field), straight from the
// view: serialising a parsed packet allocates nothing.
template <typename Options>
void write_options(Writer& w, const Options& options) {
  for (const Option& o : options) {
    w.cstring(o.name);
    w.cstring(o.value);
  }
}

}  // namespace

std::string_view opcode_name(Opcode op) {
  switch (op) {
    case Opcode::kRrq: return "RRQ";
    case Opcode::kWrq: return "WRQ";
    case Opcode::kData: return "DATA";
    case Opcode::kAck: return "ACK";
    case Opcode::kError: return "ERROR";
    case Opcode::kOack: return "OACK";
  }
  return "?";
}

std::string_view error_code_name(uint16_t code) {
  switch (code) {
    case 0: return "Not defined";
    case 1: return "File not found";
    case 2: return "Access violation";
    case 3: return "Disk full or allocation exceeded";
    case 4: return "Illegal TFTP operation";
    case 5: return "Unknown transfer ID";
    case 6: return "File already exists";
    case 7: return "No such user";
    case 8: return "Option negotiation refused";
    default: return "Unknown error code";
  }
}

Mode mode_from_text(std::string_view text) {
  if (iequals(text, "netascii")) return Mode::kNetascii;
  if (iequals(text, "octet")) return Mode::kOctet;
  if (iequals(text, "mail")) return Mode::kMail;
  return Mode::kUnknown;
}

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::kNetascii: return "netascii";
    case Mode::kOctet: return "octet";
    case Mode::kMail: return "mail";
    case Mode::kUnknown: return "unknown";
  }
  return "unknown";
}

Opcode opcode_of(const Packet& p) {
  struct Visitor {
    Opcode operator()(const Request& r) const { return r.opcode; }
    Opcode operator()(const Data&) const { return Opcode::kData; }
    Opcode operator()(const Ack&) const { return Opcode::kAck; }
    Opcode operator()(const ErrorPacket&) const { return Opcode::kError; }
    Opcode operator()(const Oack&) const { return Opcode::kOack; }
  };
  return std::visit(Visitor{}, p);
}

tl::expected<Packet, ParseError> parse(std::span<const uint8_t> b, Strictness s) {
  if (b.empty()) return fail(ParseErrc::kEmpty, 0);
  if (b.size() < 2) return fail(ParseErrc::kTruncatedOpcode, 0);
  const uint16_t op = read_u16(b, 0);
  switch (op) {
    case 1:
    case 2:
      return parse_request(b, static_cast<Opcode>(op), s);
    case 3:
      if (b.size() < 4) return fail(ParseErrc::kTruncatedBlock, b.size());
      if (b.size() > kMaxDatagramSize) return fail(ParseErrc::kDataTooLong, kMaxDatagramSize);
      return Data{read_u16(b, 2), b.subspan(4)};
    case 4:
      if (b.size() < 4) return fail(ParseErrc::kTruncatedBlock, b.size());
      if (s == Strictness::kStrict && b.size() != 4) return fail(ParseErrc::kTrailingBytes, 4);
      return Ack{read_u16(b, 2)};
    case 5:
      return parse_error_packet(b, s);
    case 6: {
      // RFC 2347's format lists at least one option, so strict refuses an empty OACK. Real
      // servers send one, and lenient returns it so that callers can judge what was sent.
      if (b.size() == 2) {
        if (s == Strictness::kStrict) return fail(ParseErrc::kEmptyOack, 2);
        return Oack{};
      }
      auto options = parse_options(b, 2);
      if (!options) return tl::unexpected(options.error());
      return Oack{*options};
    }
    default:
      return fail(ParseErrc::kUnknownOpcode, 0);
  }
}

WriteResult write_request(std::span<uint8_t> out, Opcode opcode, std::string_view filename,
                          std::string_view mode, std::span<const Option> options) {
  Writer w(out);
  w.u16(static_cast<uint16_t>(opcode));
  w.cstring(filename);
  w.cstring(mode);
  write_options(w, options);
  return w.finish();
}

WriteResult write_data(std::span<uint8_t> out, uint16_t block, std::span<const uint8_t> payload) {
  Writer w(out);
  w.u16(static_cast<uint16_t>(Opcode::kData));
  w.u16(block);
  w.bytes(payload);
  return w.finish();
}

WriteResult write_ack(std::span<uint8_t> out, uint16_t block) {
  Writer w(out);
  w.u16(static_cast<uint16_t>(Opcode::kAck));
  w.u16(block);
  return w.finish();
}

WriteResult write_error(std::span<uint8_t> out, uint16_t code, std::string_view message) {
  Writer w(out);
  w.u16(static_cast<uint16_t>(Opcode::kError));
  w.u16(code);
  w.cstring(message);
  return w.finish();
}

WriteResult write_oack(std::span<uint8_t> out, std::span<const Option> options) {
  Writer w(out);
  w.u16(static_cast<uint16_t>(Opcode::kOack));
  write_options(w, options);
  return w.finish();
}

WriteResult write_packet(std::span<uint8_t> out, const Packet& p) {
  if (const auto* r = std::get_if<Request>(&p)) {
    Writer w(out);
    w.u16(static_cast<uint16_t>(r->opcode));
    w.cstring(r->filename);
    w.cstring(r->mode_text);
    write_options(w, r->options);
    return w.finish();
  }
  if (const auto* d = std::get_if<Data>(&p)) return write_data(out, d->block, d->payload);
  if (const auto* k = std::get_if<Ack>(&p)) return write_ack(out, k->block);
  if (const auto* e = std::get_if<ErrorPacket>(&p)) return write_error(out, e->code, e->message);
  Writer w(out);
  w.u16(static_cast<uint16_t>(Opcode::kOack));
  write_options(w, std::get<Oack>(p).options);
  return w.finish();
}

namespace {
// The same options in the same order. A view holds validated "name\0value\0" pairs, whose
// bytes are a function of the pairs: comparing the bytes compares the options.
bool same_options(const OptionsView& a, const OptionsView& b) {
  return std::equal(a.raw().begin(), a.raw().end(), b.raw().begin(), b.raw().end());
}
}  // namespace

bool same_packet(const Packet& a, const Packet& b) {
  if (a.index() != b.index()) return false;
  if (const auto* r = std::get_if<Request>(&a)) {
    const auto& s = std::get<Request>(b);
    return r->opcode == s.opcode && r->filename == s.filename && r->mode_text == s.mode_text && r->mode == s.mode &&
           same_options(r->options, s.options);
  }
  if (const auto* d = std::get_if<Data>(&a)) {
    const auto& e = std::get<Data>(b);
    return d->block == e.block && std::equal(d->payload.begin(), d->payload.end(), e.payload.begin(), e.payload.end());
  }
  if (const auto* k = std::get_if<Ack>(&a)) return k->block == std::get<Ack>(b).block;
  if (const auto* e = std::get_if<ErrorPacket>(&a)) {
    const auto& f = std::get<ErrorPacket>(b);
    return e->code == f.code && e->message == f.message;
  }
  return same_options(std::get<Oack>(a).options, std::get<Oack>(b).options);
}

std::string describe(const Packet& p) {
  struct Visitor {
    std::string operator()(const Request& r) const {
      std::string out(opcode_name(r.opcode));
      out += ' ';
      append_quoted(out, r.filename);
      out += ' ';
      append_quoted(out, r.mode_text);
      append_options(out, r.options);
      return out;
    }
    std::string operator()(const Data& d) const {
      return "DATA block=" + std::to_string(d.block) + " size=" + std::to_string(d.payload.size());
    }
    std::string operator()(const Ack& a) const { return "ACK block=" + std::to_string(a.block); }
    std::string operator()(const ErrorPacket& e) const {
      return "ERROR code=" + std::to_string(e.code) + " (" + std::string(error_code_name(e.code)) + ") " +
             quoted(e.message);
    }
    std::string operator()(const Oack& o) const {
      std::string out = "OACK";
      append_options(out, o.options);
      return out;
    }
  };
  return std::visit(Visitor{}, p);
}

std::string describe_datagram(std::span<const uint8_t> bytes) {
  auto packet = parse(bytes, Strictness::kLenient);
  if (!packet) return "malformed (" + packet.error().to_string() + "), " + std::to_string(bytes.size()) + " bytes";
  return describe(*packet);
}

}  // namespace tftp::proto
