// Many runs side by side (`tftpspec report merge`): servers by scenarios, for a fleet
// validated by parallel CI jobs. JSON schema: reports/tftpspec-matrix.schema.json.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/model.h"

namespace tftp::report {

// One input report and the name its column goes by (the file's stem unless given).
struct NamedReport {
  std::string name;
  std::string file;
  RunReport report;
};

struct MatrixColumn {
  std::string name;
  std::string file;
  std::string target;       // address
  std::string description;  // what the target said it is
  std::string tool_version;
  std::string catalogue_version;
  std::string started;
  uint64_t seed = 0;
  bool alive = false;
  bool interrupted = false;
  Summary summary;
};

struct MatrixCell {
  Verdict verdict = Verdict::kPass;
  std::string reason;
};

struct MatrixRow {
  std::string id;
  std::string title;
  std::string citation;
  std::string level;
  std::vector<std::optional<MatrixCell>> cells;  // one per column; none: not in that run
  bool differs() const;  // not every column has the same verdict (a missing cell differs)
};

// A run-wide finding (rule id | cause) across the runs: its verdict where it was seen.
struct MatrixFindingRow {
  std::string key;
  std::string citation;
  std::string message;  // as first seen in the first run that saw it
  std::vector<std::optional<Verdict>> cells;
  bool differs() const;
};

struct Matrix {
  std::vector<MatrixColumn> columns;
  std::vector<MatrixRow> rows;  // by scenario id
  std::vector<MatrixFindingRow> findings;  // by key
  // The runs used different catalogues: a missing cell may then be a scenario that did not exist.
  bool catalogues_differ = false;
};

Matrix build_matrix(const std::vector<NamedReport>& reports);
nlohmann::json to_json(const Matrix& matrix);

}  // namespace tftp::report
