#include "report/junit_report.h"

#include <cstdio>
#include <map>
#include <vector>

#include "report/ladder.h"

namespace tftp::report {

namespace {

std::string hex_escape(unsigned value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, digits == 2 ? "\\x%02X" : "\\u%04X", value);
  return buf;
}

// The length of the well-formed UTF-8 sequence at `s[i]` (RFC 3629 table: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
size_t utf8_length(std::string_view s, size_t i, unsigned& code_point) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned lead = byte(i);
  size_t n = 0;
  unsigned low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  code_point = lead & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3F);
  }
  return n;
}

std::string seconds(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ms / 1000);
  return buf;
}

std::string group_of(const std::string& id) { return id.substr(0, id.find('.')); }

void property(std::string& out, const std::string& name, const std::string& value) {
  out += "      <property name=\"" + xml_escape(name, true) + "\" value=\"" + xml_escape(value, true) + "\"/>\n";
}

// Run-wide facts every suite carries: a CI shows a suite's properties, and the run has no
// other place in the format (testsuites takes none).
void run_properties(std::string& out, const RunReport& run) {
  property(out, "tftpspec.version", run.tool_version);
  property(out, "tftpspec.catalogue", run.catalogue_version);
  property(out, "tftpspec.command", run.command);
  property(out, "tftpspec.seed", std::to_string(run.seed));
  property(out, "tftpspec.target", run.target.address);
  property(out, "tftpspec.target.alive", run.target.alive ? "true" : "false");
  property(out, "tftpspec.interrupted", run.interrupted ? "true" : "false");
  if (run.target_died_after) property(out, "tftpspec.target.died_after", *run.target_died_after);
}

std::string line(const std::string& label, const std::string& value) {
  return value.empty() ? "" : label + ": " + value + "\n";
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : separator) + i;
  return out;
}

// A non-pass in one line: the requirement that decided it, and why.
std::string headline(const ScenarioResult& r) { return (r.decided_by.empty() ? "" : "[" + r.decided_by + "] ") + r.reason; }

// What a reader needs to judge a non-pass without the JSON: the requirement, expected vs
// observed, and the datagrams as the ladder `run -v` draws.
std::string scenario_details(const ScenarioResult& r) {
  std::string out = headline(r) + "\n";
  out += line("title", r.title);
  out += line("requirements", join(r.requirements, ", "));
  out += line("level", r.level);
  out += line("citation", r.citation);
  out += line("expected", r.expected);
  out += line("observed", r.observed);
  out += line("category", r.category);
  out += line("scenario", r.file);
  for (const auto& c : r.retransmissions) out += "retransmissions: " + c.text() + "\n";
  if (r.datagrams_dropped > 0) out += "datagrams dropped: " + std::to_string(r.datagrams_dropped) + "\n";
  for (const auto& f : r.findings) out += "finding " + f.id + " (" + f.level + ", " + f.citation + "): " + f.message + "\n";
  out += line("run-wide findings also seen", join(r.see_also, ", "));
  if (!r.evidence.empty()) out += "evidence:\n" + render_ladder(r.evidence, r.evidence_elided, "  ");
  return out;
}

std::string finding_details(const RunFinding& f) {
  const auto& x = f.finding;
  std::string out = "[" + x.requirement + "] " + x.message + "\n";
  out += line("level", x.level);
  out += line("citation", x.citation);
  out += line("category", x.category);
  out += "seen " + std::to_string(f.sightings) + " times in " + std::to_string(f.scenarios.size()) +
         " scenarios, first in " + f.first_seen_in + ": " + join(f.scenarios, ", ") + "\n";
  if (!x.datagrams.empty()) out += "evidence (as first seen):\n" + render_ladder(x.datagrams, 0, "  ");
  return out;
}

// One testcase: the verdict decides its child element; `details` is its text. A failure's
// type is MUST: a fail is a MUST broken, whatever the level of the scenario that saw it.
void testcase(std::string& out, const std::string& classname, const std::string& name, double duration_ms,
              Verdict verdict, const std::string& message, const std::string& details) {
  out += "    <testcase classname=\"" + xml_escape(classname, true) + "\" name=\"" + xml_escape(name, true) +
         "\" time=\"" + seconds(duration_ms) + "\"";
  const std::string m = xml_escape(message, true);
  switch (verdict) {
    case Verdict::kPass:
      out += "/>\n";
      return;
    case Verdict::kFail:
      out += ">\n      <failure message=\"" + m + "\" type=\"MUST\">" + xml_escape(details) + "</failure>\n";
      break;
    case Verdict::kError:
      out += ">\n      <error message=\"" + m + "\" type=\"harness\">" + xml_escape(details) + "</error>\n";
      break;
    case Verdict::kSkip:
      out += ">\n      <skipped message=\"" + m + "\"/>\n";
      break;
    case Verdict::kWarn:
      out += ">\n      <system-out>WARN: " + xml_escape(details) + "</system-out>\n";
      break;
    case Verdict::kNote:
      out += ">\n      <system-out>NOTE: " + xml_escape(details) + "</system-out>\n";
      break;
  }
  out += "    </testcase>\n";
}

struct Counts {
  int tests = 0, failures = 0, errors = 0, skipped = 0, warn = 0, note = 0;
  double ms = 0;
  void add(Verdict v, double duration_ms) {
    ++tests;
    ms += duration_ms;
    failures += v == Verdict::kFail;
    errors += v == Verdict::kError;
    skipped += v == Verdict::kSkip;
    warn += v == Verdict::kWarn;
    note += v == Verdict::kNote;
  }
  void merge(const Counts& o) {  // what <testsuites> carries
    tests += o.tests;
    failures += o.failures;
    errors += o.errors;
  }
};

void open_suite(std::string& out, const std::string& name, const Counts& c, const RunReport& run) {
  out += "  <testsuite name=\"" + xml_escape(name, true) + "\" tests=\"" + std::to_string(c.tests) + "\" failures=\"" +
         std::to_string(c.failures) + "\" errors=\"" + std::to_string(c.errors) + "\" skipped=\"" +
         std::to_string(c.skipped) + "\" time=\"" + seconds(c.ms) + "\" timestamp=\"" + xml_escape(run.started, true) +
         "\">\n    <properties>\n";
  run_properties(out, run);
  property(out, "tftpspec.warn", std::to_string(c.warn));
  property(out, "tftpspec.note", std::to_string(c.note));
  out += "    </properties>\n";
}

}  // namespace

std::string xml_escape(std::string_view text, bool attribute) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      unsigned code_point = 0;
      const size_t n = utf8_length(text, i, code_point);
      if (n == 0) {
        out += hex_escape(c, 2);
        ++i;
      } else if (code_point == 0xFFFE || code_point == 0xFFFF) {
        out += hex_escape(code_point, 4);
        i += n;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;  // also keeps "]]>" out of character data
      case '"': out += "&quot;"; break;
      case '\r': out += "&#13;"; break;  // a parser would turn a raw CR (and CR LF) into LF
      case '\t': out += attribute ? "&#9;" : "\t"; break;
      case '\n': out += attribute ? "&#10;" : "\n"; break;
      default: out += c < 0x20 ? hex_escape(c, 2) : std::string(1, static_cast<char>(c));
    }
  }
  return out;
}

std::string render_junit(const RunReport& run) {
  // Results come in id order, so each group's scenarios are contiguous; a map keeps the
  // groups in a stable order whatever order they came in.
  std::map<std::string, std::vector<const ScenarioResult*>> groups;
  for (const auto& r : run.results) groups[group_of(r.id)].push_back(&r);

  std::string suites;
  Counts total;
  for (const auto& [group, results] : groups) {
    Counts c;
    for (const auto* r : results) c.add(r->verdict, r->duration_ms);
    const std::string name = "tftpspec." + group;
    open_suite(suites, name, c, run);
    for (const auto* r : results) testcase(suites, name, r->id, r->duration_ms, r->verdict, headline(*r), scenario_details(*r));
    suites += "  </testsuite>\n";
    total.merge(c);
  }
  if (!run.findings.empty()) {
    Counts c;
    for (const auto& f : run.findings) c.add(f.verdict, 0);
    const std::string name = "tftpspec.findings";
    open_suite(suites, name, c, run);
    for (const auto& f : run.findings) {
      const auto& x = f.finding;
      const std::string message = "[" + x.requirement + "] " + x.message;
      testcase(suites, name, x.key(), 0, f.verdict, message, finding_details(f));
    }
    suites += "  </testsuite>\n";
    total.merge(c);
  }
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tftpspec\" tests=\"" + std::to_string(total.tests) +
         "\" failures=\"" + std::to_string(total.failures) + "\" errors=\"" + std::to_string(total.errors) +
         "\" time=\"" + seconds(run.duration_ms) + "\">\n" + suites + "</testsuites>\n";
}

}  // namespace tftp::report
