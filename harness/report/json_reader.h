// Reads back what tftpspec writes: run reports (reports/tftpspec-report.schema.json) and
// expectations files (scenarios/README.md "Expectations"), for --baseline, `report merge`
// and `rerun`. The one home of both formats on the reading side; a round-trip test keeps
// the report reader equal to json_report.cc's writer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "report/model.h"

namespace tftp::report {

enum class ReadErrc : uint8_t {
  kUnreadable,     // the file cannot be opened or read
  kInvalidJson,    // a syntax error inside the document
  kTruncated,      // the document ends inside a value: an interrupted copy or write
  kForeign,        // valid JSON (or not JSON at all) but not the kind of file asked for
  kNewerVersion,   // a format version above the one this tftpspec knows
  kMalformed,      // the right kind of file with a field missing or of the wrong type
};

struct ReadError {
  ReadErrc code;
  std::string where;   // "line 3, column 7" or a JSON pointer ("/results/4/verdict"); may be empty
  std::string detail;  // what was found, for people

  std::string_view id() const;  // "tftp.report.truncated"
  std::string to_string() const;  // "tftp.report.truncated at line 9, column 1: ..."
  friend bool operator==(const ReadError&, const ReadError&) = default;
};

// One recorded deviation: the verdict a scenario (or run-wide finding) is known to get, and why.
struct Expectation {
  Verdict verdict = Verdict::kPass;
  std::string why;
  friend bool operator==(const Expectation&, const Expectation&) = default;
};

// scenarios/expectations/<server>.json: the known deviations of one server. A scenario not
// listed is expected to pass; a run-wide finding not listed is expected not to be seen.
struct Expectations {
  std::string server;
  std::map<std::string, Expectation> scenarios;  // by scenario id
  std::map<std::string, Expectation> findings;   // by finding key, "rule id|cause"
  friend bool operator==(const Expectations&, const Expectations&) = default;
};

// Format identifiers (the `$schema` of each file) and the highest version of each this
// binary reads. The report's is json_report.h's kSchemaId.
inline constexpr const char* kExpectationsSchemaId = "https://tftpspec.dev/schema/expectations-1.json";
inline constexpr const char* kMatrixSchemaId = "https://tftpspec.dev/schema/matrix-1.json";

Result<nlohmann::json, ReadError> parse_json(std::string_view text);
Result<RunReport, ReadError> read_report(const nlohmann::json& doc);
Result<Expectations, ReadError> read_expectations(const nlohmann::json& doc);

// From a file: a report, an expectations file, or either (a baseline), told apart by content.
Result<RunReport, ReadError> read_report_file(const std::filesystem::path& path);
Result<Expectations, ReadError> read_expectations_file(const std::filesystem::path& path);
using BaselineFile = std::variant<RunReport, Expectations>;
Result<BaselineFile, ReadError> read_baseline_file(const std::filesystem::path& path);

}  // namespace tftp::report
