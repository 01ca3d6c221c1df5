#include "report/json_reader.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "report/json_report.h"

namespace tftp::report {

using nlohmann::json;

std::string_view ReadError::id() const {
  switch (code) {
    case ReadErrc::kUnreadable: return "tftp.report.unreadable";
    case ReadErrc::kInvalidJson: return "tftp.report.invalid_json";
    case ReadErrc::kTruncated: return "tftp.report.truncated";
    case ReadErrc::kForeign: return "tftp.report.foreign";
    case ReadErrc::kNewerVersion: return "tftp.report.newer_version";
    case ReadErrc::kMalformed: return "tftp.report.malformed";
  }
  return "tftp.report.malformed";
}

std::string ReadError::to_string() const {
  return std::string(id()) + (where.empty() ? "" : " at " + where) + ": " + detail;
}

namespace {

tl::unexpected<ReadError> fail(ReadErrc code, std::string where, std::string detail) {
  return tl::unexpected<ReadError>(ReadError{code, std::move(where), std::move(detail)});
}

// A field of the wrong type or missing, thrown inside a reader and returned as kMalformed by
// its entry point: the readers below walk deep structures where checking every step by
// hand would hide what they read.
struct Malformed {
  std::string where;
  std::string what;
};

// A JSON value and its JSON pointer, so an error names the field ("/results/4/verdict").
class Field {
 public:
  Field(const json& value, std::string path) : value_(value), path_(std::move(path)) {}

  const json& value() const { return value_; }
  const std::string& path() const { return path_; }
  bool has(const char* key) const { return value_.contains(key) && !value_.at(key).is_null(); }
  Field at(const char* key) const {
    if (!value_.is_object()) throw Malformed{path_, "not an object"};
    if (!value_.contains(key)) throw Malformed{path_ + "/" + key, "missing"};
    return Field(value_.at(key), path_ + "/" + key);
  }

  std::string str() const {
    if (!value_.is_string()) throw Malformed{path_, "not a string"};
    return value_.get<std::string>();
  }
  double number() const {
    if (!value_.is_number()) throw Malformed{path_, "not a number"};
    return value_.get<double>();
  }
  uint64_t unsigned_number() const {
    if (!value_.is_number_unsigned() && !(value_.is_number_integer() && value_.get<int64_t>() >= 0)) {
      throw Malformed{path_, "not a non-negative integer"};
    }
    return value_.get<uint64_t>();
  }
  int integer() const {
    if (!value_.is_number_integer()) throw Malformed{path_, "not an integer"};
    return value_.get<int>();
  }
  bool boolean() const {
    if (!value_.is_boolean()) throw Malformed{path_, "not true or false"};
    return value_.get<bool>();
  }
  Verdict verdict() const {
    const auto v = verdict_from_name(str());
    if (!v) throw Malformed{path_, "'" + str() + "' is not a verdict (pass, note, warn, fail, skip, error)"};
    return *v;
  }
  template <class F>
  void each(F&& f) const {
    if (!value_.is_array()) throw Malformed{path_, "not an array"};
    for (size_t i = 0; i < value_.size(); ++i) f(Field(value_.at(i), path_ + "/" + std::to_string(i)));
  }
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    each([&](const Field& f) { out.push_back(f.str()); });
    return out;
  }

  // Fields that older reports may lack read as their defaults; a present field of the wrong
  // type is still an error.
  std::string str_or(const char* key, std::string fallback = "") const { return has(key) ? at(key).str() : fallback; }
  std::optional<std::string> optional_str(const char* key) const {
    return has(key) ? std::optional<std::string>(at(key).str()) : std::nullopt;
  }
  double number_or(const char* key, double fallback = 0) const { return has(key) ? at(key).number() : fallback; }
  size_t count_or(const char* key) const { return has(key) ? static_cast<size_t>(at(key).unsigned_number()) : 0; }
  int integer_or(const char* key) const { return has(key) ? at(key).integer() : 0; }
  bool boolean_or(const char* key, bool fallback = false) const { return has(key) ? at(key).boolean() : fallback; }
  std::vector<std::string> strings_or(const char* key) const { return has(key) ? at(key).strings() : std::vector<std::string>{}; }
  std::optional<Verdict> optional_verdict(const char* key) const {
    return has(key) ? std::optional<Verdict>(at(key).verdict()) : std::nullopt;
  }

 private:
  const json& value_;
  std::string path_;
};

// ---- what a document is ------------------------------------------------------------------

constexpr std::string_view kSchemaPrefix = "https://tftpspec.dev/schema/";

// "https://tftpspec.dev/schema/report-2.json" -> {"report", 2}; nothing for another schema.
std::optional<std::pair<std::string, int>> tftpspec_format(std::string_view id) {
  if (id.substr(0, kSchemaPrefix.size()) != kSchemaPrefix) return std::nullopt;
  id.remove_prefix(kSchemaPrefix.size());
  const auto dash = id.rfind('-');
  const auto dot = id.rfind(".json");
  if (dash == std::string_view::npos || dot == std::string_view::npos || dot <= dash + 1) return std::nullopt;
  int version = 0;
  for (char c : id.substr(dash + 1, dot - dash - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    version = version * 10 + (c - '0');
  }
  return std::pair<std::string, int>(std::string(id.substr(0, dash)), version);
}

enum class Kind { kReport, kExpectations, kMatrix };

struct KnownFormat {
  Kind kind;
  const char* schema_id;  // the newest this binary reads and writes
  const char* described;  // for "... not a run report"
};
const KnownFormat kFormats[] = {
    {Kind::kReport, kSchemaId, "a tftpspec run report"},
    {Kind::kExpectations, kExpectationsSchemaId, "a tftpspec expectations file"},
    {Kind::kMatrix, kMatrixSchemaId, "a tftpspec matrix (the output of `tftpspec report merge`)"},
};
const KnownFormat& format_of(Kind kind) {
  for (const auto& f : kFormats) {
    if (f.kind == kind) return f;
  }
  return kFormats[0];
}

std::string quote_start(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  return "'" + out + (text.size() > 40 ? "...'" : "'");
}

// What a JSON document that is no tftpspec file looks like, so the user recognises it.
std::string describe(const json& doc) {
  if (doc.is_array()) {
    if (!doc.empty() && doc.front().is_object() && doc.front().contains("level") && doc.front().contains("group")) {
      return "a list of scenarios (the output of `tftpspec run --list --json`)";
    }
    return "a JSON array of " + std::to_string(doc.size()) + " items";
  }
  if (!doc.is_object()) return std::string("a JSON ") + doc.type_name();
  if (doc.contains("$schema") && doc.at("$schema").is_string()) {
    const auto schema = doc.at("$schema").get<std::string>();
    if (schema.find("json-schema.org") != std::string::npos) return "a JSON Schema (" + doc.value("title", schema) + ")";
    return "a document of schema " + schema;
  }
  std::string keys;
  size_t n = 0;
  for (const auto& item : doc.items()) {
    if (n++ == 6) {
      keys += ", ...";
      break;
    }
    keys += (keys.empty() ? "" : ", ") + item.key();
  }
  return keys.empty() ? "an empty JSON object" : "a JSON object with keys " + keys;
}

Result<Kind, ReadError> identify(const json& doc) {
  if (doc.is_object() && doc.contains("$schema") && doc.at("$schema").is_string()) {
    const auto id = doc.at("$schema").get<std::string>();
    if (auto format = tftpspec_format(id)) {
      for (const auto& known : kFormats) {
        const auto ours = tftpspec_format(known.schema_id);
        if (!ours || ours->first != format->first) continue;
        if (format->second > ours->second) {
          return fail(ReadErrc::kNewerVersion, "/$schema",
                      "format " + format->first + "-" + std::to_string(format->second) +
                          " was written by a newer tftpspec; this one reads up to " + format->first + "-" +
                          std::to_string(ours->second) + " (upgrade tftpspec, or write the file again with this one)");
        }
        return known.kind;
      }
      return fail(ReadErrc::kForeign, "/$schema", "a tftpspec file of a kind this version does not know (" + id + ")");
    }
  }
  // Expectations files are written by hand: the `$schema` line is optional.
  if (doc.is_object() && doc.contains("expectations") && doc.at("expectations").is_object()) return Kind::kExpectations;
  return fail(ReadErrc::kForeign, "", "not a tftpspec file: " + describe(doc));
}

Result<void, ReadError> expect_kind(const json& doc, Kind wanted) {
  auto kind = identify(doc);
  if (!kind) return tl::unexpected(kind.error());
  if (*kind != wanted) {
    return fail(ReadErrc::kForeign, "", std::string(format_of(*kind).described) + ", not " + format_of(wanted).described);
  }
  return {};
}

// ---- the report ---------------------------------------------------------------------------

std::vector<EvidenceLine> evidence_lines(const Field& f) {
  std::vector<EvidenceLine> out;
  f.each([&](const Field& e) {
    out.push_back({static_cast<size_t>(e.at("index").unsigned_number()), e.at("t_ms").number(), e.at("direction").str(),
                   e.at("from").str(), e.at("to").str(), e.at("packet").str(),
                   static_cast<size_t>(e.at("size").unsigned_number()), e.str_or("mark"), e.str_or("hex"),
                   e.has("frame") ? e.at("frame").unsigned_number() : 0});
  });
  return out;
}

FindingRecord finding(const Field& f) {
  FindingRecord r;
  r.id = f.at("id").str();
  r.requirement = f.str_or("requirement");
  r.citation = f.str_or("citation");
  r.level = f.str_or("level");
  r.cause = f.str_or("cause");
  r.category = f.str_or("category");
  r.message = f.str_or("message");
  if (f.has("evidence")) f.at("evidence").each([&](const Field& i) { r.evidence.push_back(i.unsigned_number()); });
  if (f.has("datagrams")) r.datagrams = evidence_lines(f.at("datagrams"));
  return r;
}

std::vector<FindingRecord> findings(const Field& f, const char* key) {
  std::vector<FindingRecord> out;
  if (f.has(key)) f.at(key).each([&](const Field& x) { out.push_back(finding(x)); });
  return out;
}

ScenarioResult result(const Field& f) {
  ScenarioResult r;
  r.id = f.at("id").str();
  r.verdict = f.at("verdict").verdict();
  r.title = f.str_or("title");
  r.citation = f.str_or("citation");
  r.requirement = f.str_or("requirement");
  r.requirements = f.strings_or("requirements");
  r.level = f.str_or("level");
  r.summary = f.str_or("summary");
  r.file = f.str_or("file");
  r.tags = f.strings_or("tags");
  r.reason = f.str_or("reason");
  r.decided_by = f.str_or("decided_by");
  r.expected = f.str_or("expected");
  r.observed = f.str_or("observed");
  r.duration_ms = f.number_or("duration_ms");
  if (f.has("evidence")) r.evidence = evidence_lines(f.at("evidence"));
  r.evidence_elided = f.count_or("evidence_elided");
  r.datagrams_dropped = f.count_or("datagrams_dropped");
  r.category = f.str_or("category");
  r.findings = findings(f, "findings");
  r.see_also = f.strings_or("see_also");
  if (f.has("retransmissions")) {
    f.at("retransmissions").each([&](const Field& c) {
      RetransmissionCurve curve;
      curve.packet = c.str_or("packet");
      if (c.has("gaps_ms")) c.at("gaps_ms").each([&](const Field& g) { curve.gaps_ms.push_back(g.number()); });
      curve.end = c.str_or("end");
      curve.judgement = c.str_or("judgement");
      r.retransmissions.push_back(std::move(curve));
    });
  }
  return r;
}

RunFinding run_finding(const Field& f) {
  RunFinding r;
  r.finding = finding(f);
  r.verdict = f.at("verdict").verdict();
  r.first_seen_in = f.str_or("first_seen_in");
  r.scenarios = f.strings_or("scenarios");
  r.sightings = f.count_or("sightings");
  return r;
}

TargetInfo target(const Field& f) {
  TargetInfo t;
  t.address = f.str_or("address");
  t.description = f.str_or("description");
  t.alive = f.boolean_or("alive");
  t.capabilities = f.strings_or("capabilities");
  t.rto_ms = f.number_or("rto_ms");
  t.srto_ms = f.number_or("srto_ms");
  if (f.has("path")) {
    const auto p = f.at("path");
    t.path = {p.integer_or("samples"), p.number_or("rtt_ms"), p.number_or("jitter_ms")};
  }
  if (f.has("fixtures")) {
    f.at("fixtures").each([&](const Field& x) {
      t.fixtures.push_back({x.at("name").str(), x.at("status").str(), x.str_or("detail")});
    });
  }
  t.notes = f.strings_or("notes");
  return t;
}

Summary summary(const Field& f) {
  Summary s;
  s.pass = f.integer_or("pass");
  s.note = f.integer_or("note");
  s.fail = f.integer_or("fail");
  s.warn = f.integer_or("warn");
  s.skip = f.integer_or("skip");
  s.error = f.integer_or("error");
  if (f.has("findings")) {
    const auto x = f.at("findings");
    s.findings_fail = x.integer_or("fail");
    s.findings_warn = x.integer_or("warn");
    s.findings_note = x.integer_or("note");
  }
  return s;
}

RunSettings run_settings(const Field& f) {
  RunSettings s;
  s.target = f.optional_str("target");
  s.root = f.optional_str("root");
  s.upload_fixtures = f.boolean_or("upload_fixtures");
  s.include = f.strings_or("include");
  s.exclude = f.strings_or("exclude");
  s.slow = f.boolean_or("slow");
  s.jobs = f.integer_or("jobs");
  s.reference_faults = f.strings_or("reference_faults");
  s.scenarios = f.optional_str("catalogue_dir");
  return s;
}

BaselineComparison baseline(const Field& f) {
  BaselineComparison b;
  b.file = f.str_or("file");
  const auto kind = f.at("kind").str();
  if (kind != "report" && kind != "expectations") throw Malformed{f.path() + "/kind", "'" + kind + "' is not report or expectations"};
  b.kind = kind == "report" ? BaselineKind::kReport : BaselineKind::kExpectations;
  b.description = f.str_or("description");
  b.not_selected = f.count_or("not_selected");
  f.at("changes").each([&](const Field& c) {
    BaselineChange change;
    const auto name = c.at("kind").str();
    const auto k = change_kind_from_name(name);
    if (!k) throw Malformed{c.path() + "/kind", "'" + name + "' is not a kind of change"};
    change.kind = *k;
    change.id = c.at("id").str();
    change.before = c.optional_verdict("before");
    change.after = c.optional_verdict("after");
    change.reason = c.str_or("reason");
    change.why = c.str_or("why");
    change.regression = c.boolean_or("regression");
    b.changes.push_back(std::move(change));
  });
  return b;
}

RunReport report_of(const Field& f) {
  RunReport r;
  if (f.has("tool")) {
    r.tool_name = f.at("tool").str_or("name", r.tool_name);
    r.tool_version = f.at("tool").str_or("version");
  }
  r.catalogue_version = f.str_or("catalogue_version");
  r.command = f.str_or("command");
  r.seed = f.has("seed") ? f.at("seed").unsigned_number() : 0;
  r.started = f.str_or("started");
  r.finished = f.str_or("finished");
  r.duration_ms = f.number_or("duration_ms");
  if (f.has("target")) r.target = target(f.at("target"));
  r.selection = f.strings_or("selection");
  if (f.has("summary")) r.summary = summary(f.at("summary"));
  r.interrupted = f.boolean_or("interrupted");
  r.target_died_after = f.optional_str("target_died_after");
  f.at("results").each([&](const Field& x) { r.results.push_back(result(x)); });
  if (f.has("findings")) f.at("findings").each([&](const Field& x) { r.findings.push_back(run_finding(x)); });
  if (f.has("run")) r.run = run_settings(f.at("run"));
  if (f.has("baseline")) r.baseline = baseline(f.at("baseline"));
  return r;
}

std::map<std::string, Expectation> expectation_map(const Field& f) {
  if (!f.value().is_object()) throw Malformed{f.path(), "not an object of id: {verdict, why}"};
  std::map<std::string, Expectation> out;
  for (const auto& item : f.value().items()) {
    const Field e(item.value(), f.path() + "/" + item.key());
    Expectation x;
    x.verdict = e.at("verdict").verdict();
    x.why = e.at("why").str();
    // The point of the file: every known deviation says why it is accepted.
    if (x.why.empty()) throw Malformed{e.path() + "/why", "empty: say why this verdict is expected"};
    out.emplace(item.key(), std::move(x));
  }
  return out;
}

std::string line_and_column(std::string_view text, size_t byte) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < std::min(byte, text.size()); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

Result<std::string, ReadError> slurp(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return fail(ReadErrc::kUnreadable, "", path.string() + " is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ReadErrc::kUnreadable, "", "cannot open " + path.string());
  std::stringstream s;
  s << in.rdbuf();
  if (in.bad()) return fail(ReadErrc::kUnreadable, "", "cannot read " + path.string());
  return s.str();
}

template <class T>
Result<T, ReadError> guarded(T (*read)(const Field&), const json& doc) {
  try {
    return read(Field(doc, ""));
  } catch (const Malformed& m) {
    return fail(ReadErrc::kMalformed, m.where.empty() ? "/" : m.where, m.what);
  }
}

Expectations expectations_of(const Field& f) {
  Expectations e;
  e.server = f.str_or("server");
  e.scenarios = expectation_map(f.at("expectations"));
  if (f.has("findings")) e.findings = expectation_map(f.at("findings"));
  return e;
}

}  // namespace

Result<json, ReadError> parse_json(std::string_view text) {
  const auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return fail(ReadErrc::kTruncated, "", "the file is empty");
  // Not even the start of a JSON document (or of a comment before one): an HTML page, JUnit
  // XML, a capture.
  if (std::string_view("{[\"-0123456789tfn/").find(text[start]) == std::string_view::npos) {
    return fail(ReadErrc::kForeign, "", "not JSON: it begins with " + quote_start(text.substr(start)));
  }
  try {
    // Expectations files are written by hand and may carry comments.
    return json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    const std::string where = line_and_column(text, e.byte == 0 ? 0 : e.byte - 1);
    if (e.byte >= text.size()) {
      return fail(ReadErrc::kTruncated, where,
                  "the document ends inside an unfinished value after " + std::to_string(text.size()) +
                      " bytes: a file cut short (an interrupted copy or write?)");
    }
    std::string what = e.what();
    const auto at = what.find("syntax error");
    return fail(ReadErrc::kInvalidJson, where, at == std::string::npos ? what : what.substr(at));
  }
}

Result<RunReport, ReadError> read_report(const json& doc) {
  if (auto kind = expect_kind(doc, Kind::kReport); !kind) return tl::unexpected(kind.error());
  return guarded(&report_of, doc);
}

Result<Expectations, ReadError> read_expectations(const json& doc) {
  if (auto kind = expect_kind(doc, Kind::kExpectations); !kind) return tl::unexpected(kind.error());
  return guarded(&expectations_of, doc);
}

Result<RunReport, ReadError> read_report_file(const std::filesystem::path& path) {
  return slurp(path).and_then(parse_json).and_then([](const json& doc) { return read_report(doc); });
}

Result<Expectations, ReadError> read_expectations_file(const std::filesystem::path& path) {
  return slurp(path).and_then(parse_json).and_then([](const json& doc) { return read_expectations(doc); });
}

Result<BaselineFile, ReadError> read_baseline_file(const std::filesystem::path& path) {
  auto doc = slurp(path).and_then(parse_json);
  if (!doc) return tl::unexpected(doc.error());
  auto kind = identify(*doc);
  if (!kind) return tl::unexpected(kind.error());
  if (*kind == Kind::kExpectations) return read_expectations(*doc).map([](Expectations e) { return BaselineFile(std::move(e)); });
  if (*kind == Kind::kReport) return read_report(*doc).map([](RunReport r) { return BaselineFile(std::move(r)); });
  return fail(ReadErrc::kForeign, "",
              std::string(format_of(*kind).described) + ", not a run report or an expectations file");
}

}  // namespace tftp::report
