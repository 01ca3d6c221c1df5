#include "report/json_report.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace tftp::report {

using nlohmann::json;

namespace {

json result_json(const ScenarioResult& r) {
  json evidence = json::array();
  for (const auto& e : r.evidence) {
    evidence.push_back({{"index", e.index}, {"t_ms", e.t_ms}, {"direction", e.direction}, {"from", e.from},
                        {"to", e.to}, {"packet", e.packet}, {"size", e.size}});
  }
  json findings = json::array();
  for (const auto& f : r.findings) {
    findings.push_back({{"id", f.id}, {"requirement", f.requirement}, {"citation", f.citation}, {"level", f.level},
                        {"message", f.message}, {"evidence", f.evidence}});
  }
  json j = {{"id", r.id},           {"title", r.title},       {"citation", r.citation},
            {"requirement", r.requirement}, {"level", r.level}, {"summary", r.summary},
            {"file", r.file},       {"tags", r.tags},         {"verdict", std::string(verdict_name(r.verdict))},
            {"reason", r.reason},   {"duration_ms", r.duration_ms}, {"evidence", evidence},
            {"evidence_elided", r.evidence_elided}, {"findings", findings}};
  if (!r.expected.empty()) j["expected"] = r.expected;
  if (!r.observed.empty()) j["observed"] = r.observed;
  return j;
}

}  // namespace

json to_json(const RunReport& r) {
  json results = json::array();
  for (const auto& s : r.results) results.push_back(result_json(s));
  json j = {
      {"$schema", kSchemaId},
      {"tool", {{"name", r.tool_name}, {"version", r.tool_version}}},
      {"catalogue_version", r.catalogue_version},
      {"command", r.command},
      {"seed", r.seed},
      {"started", r.started},
      {"finished", r.finished},
      {"duration_ms", r.duration_ms},
      {"target",
       {{"address", r.target.address},
        {"description", r.target.description},
        {"alive", r.target.alive},
        {"capabilities", r.target.capabilities},
        {"rto_ms", r.target.rto_ms},
        {"srto_ms", r.target.srto_ms},
        {"notes", r.target.notes}}},
      {"selection", r.selection},
      {"summary",
       {{"pass", r.summary.pass}, {"fail", r.summary.fail}, {"warn", r.summary.warn}, {"skip", r.summary.skip},
        {"error", r.summary.error}}},
      {"interrupted", r.interrupted},
      {"target_died_after", r.target_died_after ? json(*r.target_died_after) : json(nullptr)},
      {"results", results},
  };
  return j;
}

Result<void> write_file_atomic(const std::filesystem::path& path, const std::string& contents) {
  const auto temp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << contents;
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      return make_error("tftp.report.write_failed", "cannot write " + temp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::remove(temp.c_str());
    return make_error("tftp.report.write_failed", "cannot rename into " + path.string() + ": " + ec.message());
  }
  return {};
}

}  // namespace tftp::report
