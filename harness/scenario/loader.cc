#include "scenario/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "scenario/fixtures.h"

namespace tftp::scenario {

namespace {

// Thrown inside the loader only; load_* turn it into a LoadError.
struct Bad {
  int line;
  std::string message;
};

int line_of(const YAML::Node& n) { return n.Mark().line + 1; }

[[noreturn]] void bad(const YAML::Node& n, std::string message) { throw Bad{line_of(n), std::move(message)}; }

std::string str(const YAML::Node& n, const char* what) {
  if (!n.IsScalar()) bad(n, std::string(what) + " must be a single value");
  return n.Scalar();
}

long long integer(const YAML::Node& n, const char* what, long long lo, long long hi) {
  const std::string s = str(n, what);
  long long v = 0;
  size_t used = 0;
  try {
    v = std::stoll(s, &used, 0);
  } catch (...) {
    used = 0;
  }
  if (used != s.size() || s.empty()) bad(n, std::string(what) + " must be an integer, not '" + s + "'");
  if (v < lo || v > hi) bad(n, std::string(what) + " must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

bool boolean(const YAML::Node& n, const char* what) {
  const std::string s = str(n, what);
  if (s == "true" || s == "yes") return true;
  if (s == "false" || s == "no") return false;
  bad(n, std::string(what) + " must be true or false");
}

void check_keys(const YAML::Node& map, const std::set<std::string>& allowed, const char* what) {
  for (const auto& kv : map) {
    const auto key = kv.first.Scalar();
    if (!allowed.count(key)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      bad(kv.first, "unknown key '" + key + "' in " + what + " (allowed: " + list + ")");
    }
  }
}

std::optional<proto::Opcode> opcode(const YAML::Node& n, bool allow_any) {
  std::string s = str(n, "opcode");
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  static const std::map<std::string, proto::Opcode> kOps = {
      {"RRQ", proto::Opcode::kRrq},   {"WRQ", proto::Opcode::kWrq},     {"DATA", proto::Opcode::kData},
      {"ACK", proto::Opcode::kAck},   {"ERROR", proto::Opcode::kError}, {"OACK", proto::Opcode::kOack}};
  if (auto it = kOps.find(s); it != kOps.end()) return it->second;
  if (allow_any && (s == "ANY" || s == "MALFORMED")) return std::nullopt;
  bad(n, "unknown opcode '" + n.Scalar() + "' (RRQ, WRQ, DATA, ACK, ERROR, OACK" +
             std::string(allow_any ? ", ANY, MALFORMED" : ", RAW") + ")");
}

std::vector<std::pair<std::string, std::string>> option_list(const YAML::Node& n) {
  std::vector<std::pair<std::string, std::string>> out;
  if (n.IsMap()) {
    for (const auto& kv : n) out.emplace_back(kv.first.Scalar(), str(kv.second, "option value"));
  } else if (n.IsSequence()) {
    // [[name, value], ...]: allows duplicated names, which a map cannot.
    for (const auto& pair : n) {
      if (!pair.IsSequence() || pair.size() != 2) bad(pair, "options as a list need [name, value] pairs");
      out.emplace_back(str(pair[0], "option name"), str(pair[1], "option value"));
    }
  } else {
    bad(n, "options must be a map {name: value} or a list of [name, value]");
  }
  return out;
}

std::vector<uint8_t> hex_bytes(const YAML::Node& n) {
  std::vector<uint8_t> out;
  std::string digits;
  for (char c : str(n, "hex")) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      digits += c;
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      bad(n, std::string("hex contains '") + c + "'");
    }
  }
  if (digits.size() % 2 != 0) bad(n, "hex has an odd number of digits");
  for (size_t i = 0; i < digits.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return out;
}

Wait wait_of(const YAML::Node& n) {
  auto w = parse_wait(str(n, "duration"));
  if (!w) bad(n, w.error());
  return *w;
}

Verdict verdict_of(const YAML::Node& n) {
  auto v = report::verdict_from_name(str(n, "verdict"));
  if (!v) bad(n, "verdict must be pass, warn, fail, skip or error");
  return *v;
}

Socket socket_of(const YAML::Node& n) {
  const std::string s = str(n, "socket");
  if (s == "main") return Socket::kMain;
  if (s == "other") return Socket::kOther;
  bad(n, "socket must be main or other");
}

SendSpec send_of(const YAML::Node& step) {
  SendSpec s;
  const std::string op = str(step["send"], "send");
  if (op == "RAW" || op == "raw") {
    if (!step["hex"]) bad(step, "send: RAW needs hex: \"...\"");
  } else {
    s.op = opcode(step["send"], false);
  }
  if (step["file"]) s.file = str(step["file"], "file");
  if (step["mode"]) s.mode = str(step["mode"], "mode");
  if (step["options"]) s.options = option_list(step["options"]);
  if (step["block"]) s.block = static_cast<uint32_t>(integer(step["block"], "block", 0, 65535));
  if (step["size"]) s.size = static_cast<size_t>(integer(step["size"], "size", 0, 65535));
  if (step["content"]) s.content = boolean(step["content"], "content");
  if (step["code"]) s.code = static_cast<uint16_t>(integer(step["code"], "code", 0, 65535));
  if (step["message"]) s.message = str(step["message"], "message");
  if (step["hex"]) s.raw = hex_bytes(step["hex"]);
  if (step["from"]) s.from = socket_of(step["from"]);
  if (step["to"]) {
    const std::string to = str(step["to"], "to");
    if (to == "listen") s.to = Destination::kListen;
    else if (to == "server") s.to = Destination::kServer;
    else bad(step["to"], "to must be listen or server");
  }
  if (step["count"]) s.count = static_cast<int>(integer(step["count"], "count", 1, 100));
  if (step["request"]) {
    if (s.op) bad(step["request"], "request: applies to send: RAW (a typed RRQ/WRQ is a request already)");
    s.request = boolean(step["request"], "request");
  }
  if (s.op && (*s.op == proto::Opcode::kRrq || *s.op == proto::Opcode::kWrq) && s.file.empty()) {
    bad(step, "a request needs file:");
  }
  return s;
}

Pattern pattern_of(const YAML::Node& n, const YAML::Node& op_node) {
  Pattern p;
  if (op_node) {
    p.op = opcode(op_node, true);
    p.malformed = !p.op && (op_node.Scalar() == "MALFORMED" || op_node.Scalar() == "malformed");
  }
  if (n["block"]) p.block = static_cast<uint32_t>(integer(n["block"], "block", 0, 65535));
  if (n["size"]) {
    const std::string s = str(n["size"], "size");
    if (s == "full") p.size_full = true;
    else if (s == "short") p.size_short = true;
    else p.size = static_cast<size_t>(integer(n["size"], "size", 0, 65464));
  }
  if (n["code"]) {
    if (n["code"].IsSequence()) {
      for (const auto& c : n["code"]) p.codes.push_back(static_cast<uint16_t>(integer(c, "code", 0, 65535)));
    } else {
      p.codes.push_back(static_cast<uint16_t>(integer(n["code"], "code", 0, 65535)));
    }
  }
  if (n["options"]) p.options = option_list(n["options"]);
  if (n["options_absent"]) {
    for (const auto& o : n["options_absent"]) p.options_absent.push_back(str(o, "option name"));
  }
  if (n["content"]) {
    // `content: true` compares with the requested fixture; `content: NAME` with that fixture,
    // for a request that names it another way.
    const std::string v = str(n["content"], "content");
    if (v == "true" || v == "false") {
      p.content = boolean(n["content"], "content");
    } else {
      p.content = true;
      p.content_of = v;
    }
  }
  if (n["payload"]) p.payload = hex_bytes(n["payload"]);
  if (n["at"]) p.at = socket_of(n["at"]);
  if (n["source"]) {
    const std::string s = str(n["source"], "source");
    if (s == "listen") p.from_listen = true;
    else if (s == "new-port") p.from_new_port = true;
    else bad(n["source"], "source must be listen or new-port");
  }
  return p;
}

const std::set<std::string> kPatternKeys = {"block", "size", "code", "options", "options_absent", "content", "payload", "at", "source"};

std::set<std::string> with(std::set<std::string> base, std::initializer_list<const char*> more) {
  for (const char* m : more) base.insert(m);
  return base;
}

std::vector<OutgoingFault> faults_of(const YAML::Node& n) {
  std::vector<OutgoingFault> out;
  for (const auto& f : n) {
    check_keys(f, {"drop", "duplicate", "ahead", "by", "block", "times"}, "a fault");
    OutgoingFault fault{};
    if (f["drop"]) {
      fault.op = *opcode(f["drop"], false);
    } else if (f["duplicate"]) {
      fault.op = *opcode(f["duplicate"], false);
      fault.duplicate = true;
    } else if (f["ahead"]) {
      fault.op = *opcode(f["ahead"], false);
      if (fault.op != proto::Opcode::kAck) bad(f["ahead"], "ahead: applies to ACK only");
      if (!f["by"]) bad(f, "ahead: ACK needs by: N, how many blocks beyond the ACK it sends");
      fault.ahead_by = static_cast<uint32_t>(integer(f["by"], "by", 1, 32767));
    } else {
      bad(f, "a fault needs drop: OPCODE, duplicate: OPCODE or ahead: ACK");
    }
    if (f["by"] && !f["ahead"]) bad(f["by"], "by: goes with ahead: ACK");
    if (!f["block"]) bad(f, "a fault needs block:");
    fault.block = static_cast<uint32_t>(integer(f["block"], "block", 0, 100000000));
    if (f["times"]) fault.times = static_cast<int>(integer(f["times"], "times", 1, 100));
    out.push_back(fault);
  }
  return out;
}

Step step_of(const YAML::Node& n, const std::string& file) {
  if (!n.IsMap()) bad(n, "a step must be a map such as {send: RRQ, file: f1.bin}");
  Step s;
  s.where = {file, line_of(n)};
  if (n["otherwise"]) s.otherwise = verdict_of(n["otherwise"]);
  if (n["reason"]) s.reason = str(n["reason"], "reason");
  if (n["within"]) s.within = wait_of(n["within"]);
  if (n["send"]) {
    check_keys(n, {"send", "file", "mode", "options", "block", "size", "content", "code", "message", "hex", "from", "to", "count", "request"}, "a send step");
    s.kind = StepKind::kSend;
    s.send = send_of(n);
  } else if (n["expect"]) {
    check_keys(n, with(kPatternKeys, {"expect", "within", "otherwise", "reason", "repeat", "backoff", "any", "verdict", "end"}), "an expect step");
    s.kind = StepKind::kExpect;
    if (!n["within"]) s.within = Wait{0, 2.5};
    if (n["repeat"]) s.repeat = boolean(n["repeat"], "repeat");
    if (n["backoff"]) s.backoff = boolean(n["backoff"], "backoff");
    if (n["any"]) {
      if (!n["any"].IsSequence()) bad(n["any"], "any: must be a list of alternatives");
      for (const auto& alt : n["any"]) {
        check_keys(alt, with(kPatternKeys, {"op", "verdict", "reason", "end"}), "an alternative");
        Alternative a;
        a.pattern = pattern_of(alt, alt["op"]);
        if (alt["verdict"]) a.verdict = verdict_of(alt["verdict"]);
        if (alt["reason"]) a.reason = str(alt["reason"], "reason");
        if (alt["end"]) a.end = boolean(alt["end"], "end");
        s.alternatives.push_back(std::move(a));
      }
    } else {
      Alternative a;
      a.pattern = pattern_of(n, n["expect"]);
      if (n["verdict"]) a.verdict = verdict_of(n["verdict"]);
      if (n["end"]) a.end = boolean(n["end"], "end");
      a.reason = s.reason;
      s.alternatives.push_back(std::move(a));
    }
  } else if (n["silence"]) {
    check_keys(n, with(kPatternKeys, {"silence", "within", "otherwise", "reason", "repeat"}), "a silence step");
    s.kind = StepKind::kSilence;
    if (!n["within"]) s.within = Wait{0, 2.5};
    if (n["repeat"]) s.repeat = boolean(n["repeat"], "repeat");
    Alternative a;
    a.pattern = pattern_of(n, n["silence"]);
    s.alternatives.push_back(std::move(a));
  } else if (n["wait"]) {
    check_keys(n, {"wait"}, "a wait step");
    s.kind = StepKind::kWait;
    s.within = wait_of(n["wait"]);
  } else if (n["download"] || n["upload"]) {
    check_keys(n, {"download", "upload", "mode", "options", "options_if_supported", "faults", "within", "otherwise", "reason", "refused"},
               "a transfer step");
    s.kind = n["download"] ? StepKind::kDownload : StepKind::kUpload;
    s.transfer.file = str(n["download"] ? n["download"] : n["upload"], "file");
    if (n["mode"]) s.transfer.mode = str(n["mode"], "mode");
    if (n["options"]) s.transfer.options = option_list(n["options"]);
    if (n["options_if_supported"]) {
      s.transfer.options_if_supported = option_list(n["options_if_supported"]);
      static const std::set<std::string> kOptionCapabilities = {"blksize", "windowsize", "tsize", "timeout"};
      for (const auto& [name, value] : s.transfer.options_if_supported) {
        if (!kOptionCapabilities.count(name)) bad(n["options_if_supported"], "options_if_supported: '" + name + "' is no option discovery probes");
      }
    }
    if (n["faults"]) s.transfer.faults = faults_of(n["faults"]);
    if (n["refused"]) s.transfer.expect_failure = boolean(n["refused"], "refused");
    if (!n["within"]) s.within = Wait{60, 0};
  } else if (n["downloads"]) {
    check_keys(n, {"downloads", "count", "within", "otherwise", "reason"}, "a downloads step");
    s.kind = StepKind::kDownloads;
    const auto files = n["downloads"];
    if (!files.IsSequence() || files.size() == 0) bad(files, "downloads: a non-empty list of fixtures");
    for (const auto& f : files) s.concurrent.files.push_back(str(f, "file"));
    s.concurrent.count = s.concurrent.files.size();
    if (n["count"]) s.concurrent.count = static_cast<size_t>(integer(n["count"], "count", 1, 1000));
    if (!n["within"]) s.within = Wait{60, 0};
  } else if (n["schedule"]) {
    check_keys(n, {"schedule", "within", "otherwise", "reason"}, "a schedule step");
    s.kind = StepKind::kSchedule;
    const auto what = n["schedule"];
    if (what.IsScalar() && what.Scalar() == "give-up") {
      s.tries = 0;
    } else {
      s.tries = static_cast<int>(integer(what, "schedule (a number of retransmissions, or give-up)", 1, 50));
    }
    if (!n["within"]) s.within = Wait{180, 0};
  } else {
    bad(n, "a step needs one of send, expect, silence, wait, download, upload, downloads, schedule");
  }
  return s;
}

// The fixtures the target must serve for these steps, and a load error for a step that
// names a fixture the harness does not know (a typo would otherwise fail the target).
// A requested file that is not a fixture is fine (a missing file, a traversal), unless a
// later step checks DATA against the fixture's bytes.
bool uses_canary(const std::vector<Step>& steps) {
  for (const auto& step : steps) {
    for (const auto& alt : step.alternatives) {
      if (alt.pattern.content && alt.pattern.content_of == kCanaryName) return true;
    }
  }
  return false;
}

std::vector<std::string> fixtures_needed(const std::vector<Step>& steps) {
  std::set<std::string> needed;
  std::string requested;  // the file of the last RRQ
  auto unknown = [](const Step& step, const std::string& name, const char* why) {
    std::string known;
    for (const auto& f : fixtures()) known += (known.empty() ? "" : " ") + f.name;
    throw Bad{step.where.line, "unknown fixture '" + name + "' " + why + " (fixtures: " + known + ")"};
  };
  for (const auto& step : steps) {
    if (step.kind == StepKind::kSend && step.send.op) {
      const std::string& file = step.send.file;
      if (*step.send.op == proto::Opcode::kRrq) {
        requested = file;
        if (is_fixture(file)) needed.insert(file);
      } else if (*step.send.op == proto::Opcode::kWrq && file.rfind("new:", 0) == 0 && !is_fixture(file.substr(4))) {
        unknown(step, file.substr(4), "to upload");
      }
    } else if (step.kind == StepKind::kExpect) {
      for (const auto& alt : step.alternatives) {
        const std::string& compared = alt.pattern.content_of.empty() ? requested : alt.pattern.content_of;
        if (alt.pattern.content && compared == kCanaryName) continue;  // outside the root: `needs: [canary]`
        if (alt.pattern.content && !is_fixture(compared)) unknown(step, compared, "to compare DATA with");
        if (alt.pattern.content && !alt.pattern.content_of.empty()) needed.insert(compared);
      }
    } else if (step.kind == StepKind::kDownload) {
      if (is_fixture(step.transfer.file)) needed.insert(step.transfer.file);
      else if (!step.transfer.expect_failure) unknown(step, step.transfer.file, "to download");
    } else if (step.kind == StepKind::kDownloads) {
      for (const auto& f : step.concurrent.files) {
        if (!is_fixture(f)) unknown(step, f, "to download");
        needed.insert(f);
      }
    } else if (step.kind == StepKind::kUpload && !is_fixture(step.transfer.file)) {
      unknown(step, step.transfer.file, "to upload");
    }
  }
  return {needed.begin(), needed.end()};
}

Scenario scenario_of(const YAML::Node& n, const std::string& file) {
  if (!n.IsMap()) bad(n, "a scenario must be a map");
  check_keys(n, {"id", "title", "citation", "requirement", "level", "summary", "needs", "tags", "group", "sanity", "deadline", "steps"}, "a scenario");
  Scenario s;
  s.where = {file, line_of(n)};
  for (const char* required : {"id", "title", "citation", "level", "summary", "steps"}) {
    if (!n[required]) bad(n, std::string("scenario lacks '") + required + "'");
  }
  s.id = str(n["id"], "id");
  for (char c : s.id) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-')) {
      bad(n["id"], "id must be a dotted slug of a-z, 0-9, '.', '-' (e.g. rfc1350.end.zero-length-final)");
    }
  }
  s.title = str(n["title"], "title");
  s.citation = str(n["citation"], "citation");
  if (n["requirement"]) {
    // One requirement, or a list when the scenario checks several (its verdict comes from them).
    if (n["requirement"].IsSequence()) {
      for (const auto& r : n["requirement"]) s.requirements.push_back(str(r, "requirement"));
      if (s.requirements.empty()) bad(n["requirement"], "requirement: an empty list");
    } else {
      s.requirements.push_back(str(n["requirement"], "requirement"));
    }
    s.requirement = s.requirements.front();
  }
  const std::string level = str(n["level"], "level");
  if (level == "MUST") s.level = Level::kMust;
  else if (level == "SHOULD") s.level = Level::kShould;
  else if (level == "MAY") s.level = Level::kMay;
  else bad(n["level"], "level must be MUST, SHOULD or MAY");
  s.summary = str(n["summary"], "summary");
  // "canary": the harness planted one outside a local root (scenario/fixtures.h).
  static const std::set<std::string> kCapabilities = {"write", "options", "blksize", "windowsize", "tsize", "timeout", "netascii", "canary"};
  if (n["needs"]) {
    for (const auto& c : n["needs"]) {
      const auto cap = str(c, "capability");
      if (!kCapabilities.count(cap)) bad(c, "unknown capability '" + cap + "' (write, options, blksize, windowsize, tsize, timeout, netascii, canary)");
      s.needs.push_back(cap);
    }
  }
  if (n["tags"]) {
    for (const auto& t : n["tags"]) s.tags.push_back(str(t, "tag"));
  }
  if (n["group"]) {
    const std::string g = str(n["group"], "group");
    if (g != "default" && g != "slow") bad(n["group"], "group must be default or slow");
    s.slow = g == "slow";
  }
  if (n["sanity"]) s.sanity = boolean(n["sanity"], "sanity");
  if (n["deadline"]) s.deadline = wait_of(n["deadline"]).resolve(Duration::zero(), Duration::zero());
  if (!n["steps"].IsSequence() || n["steps"].size() == 0) bad(n["steps"], "steps must be a non-empty list");
  for (const auto& step : n["steps"]) s.steps.push_back(step_of(step, file));
  s.fixtures = fixtures_needed(s.steps);
  if (uses_canary(s.steps) && std::find(s.needs.begin(), s.needs.end(), "canary") == s.needs.end()) {
    bad(n, std::string("a scenario that compares with ") + kCanaryName +
               " must say `needs: [canary]`: without a planted canary its absence proves nothing");
  }
  return s;
}

}  // namespace

tl::expected<Wait, std::string> parse_wait(const std::string& text) {
  Wait w;
  std::string rest = text;
  rest.erase(std::remove_if(rest.begin(), rest.end(), ::isspace), rest.end());
  if (rest.empty()) return tl::unexpected(std::string("empty duration"));
  std::stringstream parts(rest);
  std::string part;
  while (std::getline(parts, part, '+')) {
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(part, &used);
    } catch (...) {
      return tl::unexpected(std::string("duration '" + text + "' must look like 2s, 250ms, 2rto, 0.5srto or 1rto+0.5s"));
    }
    const std::string unit = part.substr(used);
    if (value < 0) return tl::unexpected(std::string("negative duration '" + text + "'"));
    if (unit == "s") w.seconds += value;
    else if (unit == "ms") w.seconds += value / 1000;
    else if (unit == "rto") w.rto_multiple += value;
    else if (unit == "srto") w.srto_multiple += value;
    else return tl::unexpected(std::string("duration '" + text + "' must look like 2s, 250ms, 2rto, 0.5srto or 1rto+0.5s"));
  }
  return w;
}

tl::expected<std::vector<Scenario>, LoadError> load_text(const std::string& text, const std::string& name) {
  try {
    const YAML::Node root = YAML::Load(text);
    std::vector<Scenario> out;
    if (root.IsMap() && root["scenarios"]) {
      for (const auto& n : root["scenarios"]) out.push_back(scenario_of(n, name));
    } else {
      out.push_back(scenario_of(root, name));
    }
    return out;
  } catch (const Bad& b) {
    return tl::unexpected(LoadError{{name, b.line}, b.message});
  } catch (const YAML::Exception& e) {
    return tl::unexpected(LoadError{{name, e.mark.line + 1}, e.msg});
  }
}

tl::expected<std::vector<Scenario>, LoadError> load_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return tl::unexpected(LoadError{{path.string(), 0}, "cannot read the file"});
  std::stringstream text;
  text << in.rdbuf();
  return load_text(text.str(), path.string());
}

tl::expected<std::vector<Scenario>, LoadError> load_catalogue(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_regular_file(dir, ec)) {
    files.push_back(dir);  // one scenario file (pcap2scenario's output) is a catalogue too
  } else if (!std::filesystem::is_directory(dir, ec)) {
    return tl::unexpected(LoadError{{dir.string(), 0}, "scenario directory or file not found"});
  }
  for (const auto& entry : files.empty() ? std::filesystem::recursive_directory_iterator(dir)
                                         : std::filesystem::recursive_directory_iterator()) {
    const auto& p = entry.path();
    if (entry.is_regular_file() && (p.extension() == ".yaml" || p.extension() == ".yml") &&
        p.string().find("/expectations/") == std::string::npos) {
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<Scenario> all;
  std::map<std::string, SourceLocation> seen;
  for (const auto& f : files) {
    auto loaded = load_file(f);
    if (!loaded) return tl::unexpected(loaded.error());
    for (auto& s : *loaded) {
      if (auto it = seen.find(s.id); it != seen.end()) {
        return tl::unexpected(LoadError{s.where, "duplicate scenario id '" + s.id + "' (also at " + it->second.to_string() + ")"});
      }
      seen[s.id] = s.where;
      all.push_back(std::move(s));
    }
  }
  std::sort(all.begin(), all.end(), [](const Scenario& a, const Scenario& b) { return a.id < b.id; });
  return all;
}

}  // namespace tftp::scenario
