#include "report/matrix.h"

#include <algorithm>
#include <map>
#include <set>

#include "report/json_reader.h"

namespace tftp::report {

using nlohmann::json;

namespace {

template <class Cell, class Verdict_of>
bool all_same(const std::vector<std::optional<Cell>>& cells, Verdict_of verdict_of) {
  for (const auto& c : cells) {
    if (!c || !cells.front() || verdict_of(*c) != verdict_of(*cells.front())) return false;
  }
  return true;
}

json verdict_json(Verdict v) { return std::string(verdict_name(v)); }

}  // namespace

bool MatrixRow::differs() const {
  return !all_same(cells, [](const MatrixCell& c) { return c.verdict; });
}

bool MatrixFindingRow::differs() const {
  return !all_same(cells, [](Verdict v) { return v; });
}

Matrix build_matrix(const std::vector<NamedReport>& reports) {
  Matrix m;
  std::map<std::string, MatrixRow> rows;
  std::map<std::string, MatrixFindingRow> findings;
  std::set<std::string> catalogues;
  const size_t n = reports.size();
  for (size_t c = 0; c < n; ++c) {
    const auto& r = reports[c].report;
    m.columns.push_back({reports[c].name, reports[c].file, r.target.address, r.target.description, r.tool_version,
                         r.catalogue_version, r.started, r.seed, r.target.alive, r.interrupted, r.summary});
    catalogues.insert(r.catalogue_version);
    for (const auto& s : r.results) {
      auto& row = rows[s.id];
      if (row.cells.empty()) {
        row = {s.id, s.title, s.citation, s.level, std::vector<std::optional<MatrixCell>>(n)};
      }
      row.cells[c] = MatrixCell{s.verdict, s.reason};
    }
    for (const auto& f : r.findings) {
      auto& row = findings[f.finding.key()];
      if (row.cells.empty()) row = {f.finding.key(), f.finding.citation, f.finding.message, std::vector<std::optional<Verdict>>(n)};
      row.cells[c] = f.verdict;
    }
  }
  m.catalogues_differ = catalogues.size() > 1;
  for (auto& entry : rows) m.rows.push_back(std::move(entry.second));
  for (auto& entry : findings) m.findings.push_back(std::move(entry.second));
  return m;
}

json to_json(const Matrix& m) {
  json columns = json::array();
  for (const auto& c : m.columns) {
    const auto& s = c.summary;
    columns.push_back({{"name", c.name},
                       {"file", c.file},
                       {"target", c.target},
                       {"description", c.description},
                       {"tool_version", c.tool_version},
                       {"catalogue_version", c.catalogue_version},
                       {"started", c.started},
                       {"seed", c.seed},
                       {"alive", c.alive},
                       {"interrupted", c.interrupted},
                       {"summary",
                        {{"pass", s.pass}, {"note", s.note}, {"fail", s.fail}, {"warn", s.warn}, {"skip", s.skip},
                         {"error", s.error}}}});
  }
  json rows = json::array();
  for (const auto& r : m.rows) {
    json cells = json::array();
    for (const auto& c : r.cells) {
      cells.push_back(c ? json{{"verdict", verdict_json(c->verdict)}, {"reason", c->reason}} : json(nullptr));
    }
    rows.push_back({{"id", r.id}, {"title", r.title}, {"citation", r.citation}, {"level", r.level},
                    {"differs", r.differs()}, {"cells", cells}});
  }
  json findings = json::array();
  for (const auto& f : m.findings) {
    json cells = json::array();
    for (const auto& c : f.cells) cells.push_back(c ? verdict_json(*c) : json(nullptr));
    findings.push_back({{"key", f.key}, {"citation", f.citation}, {"message", f.message}, {"differs", f.differs()},
                        {"cells", cells}});
  }
  return {{"$schema", kMatrixSchemaId},
          {"columns", columns},
          {"catalogues_differ", m.catalogues_differ},
          {"scenarios", rows},
          {"findings", findings}};
}

}  // namespace tftp::report
