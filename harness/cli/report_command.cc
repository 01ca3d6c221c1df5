// tftpspec report merge: several JSON reports as one matrix of servers by scenarios.
// tftpspec report render: one JSON report as the other formats (HTML, JUnit).
#include <algorithm>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "common/atomic_file.h"
#include "cli/terminal.h"
#include "report/html_report.h"
#include "report/json_reader.h"
#include "report/json_report.h"
#include "report/matrix.h"
#include "scenario/runner.h"

namespace tftp::cli {

namespace {

// check_output_path for an output that must be a file: a page or JUnit next to the
// terminal table has no stdout to go to.
std::string file_output_problem(const std::string& path) {
  return path == "-" ? "needs a FILE (not -)" : check_output_path(path);
}

struct MergeFlags {
  std::vector<std::string> inputs;  // FILE or NAME=FILE
  std::optional<std::string> json;
  std::optional<std::string> html;
  bool differences = false;
  std::vector<std::string> include;
};

// "NAME=FILE" names a column; a bare FILE's column is named by its stem ("tftpd-hpa.json"
// -> "tftpd-hpa"), or by its path when two stems collide.
std::vector<std::pair<std::string, std::string>> columns_of(const std::vector<std::string>& inputs) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& input : inputs) {
    const auto eq = input.find('=');
    if (eq != std::string::npos && eq > 0 && input.substr(0, eq).find('/') == std::string::npos) {
      out.emplace_back(input.substr(0, eq), input.substr(eq + 1));
    } else {
      out.emplace_back(std::filesystem::path(input).stem().string(), input);
    }
  }
  const auto taken = out;
  for (auto& column : out) {  // not a structured binding: clang 14 cannot capture one
    const auto same = std::count_if(taken.begin(), taken.end(), [&](const auto& o) { return o.first == column.first; });
    if (same > 1) column.first = column.second;
  }
  return out;
}

bool selected(const std::vector<std::string>& globs, const std::string& id) {
  if (globs.empty()) return true;
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return scenario::glob_match(g, id); });
}

int count(const report::Summary& s, report::Verdict v) {
  switch (v) {
    case report::Verdict::kPass: return s.pass;
    case report::Verdict::kNote: return s.note;
    case report::Verdict::kWarn: return s.warn;
    case report::Verdict::kFail: return s.fail;
    case report::Verdict::kSkip: return s.skip;
    case report::Verdict::kError: return s.error;
  }
  return 0;
}

std::string cell_text(const std::optional<report::Verdict>& v) { return v ? std::string(report::verdict_name(*v)) : "-"; }

// The verdict a table cell shows, for its colour; none for headers, names and absent cells.
std::optional<report::Verdict> cell_verdict(const std::string& text) {
  return text == "-" ? std::nullopt : report::verdict_from_name(text);
}

void print_matrix(std::FILE* out, const report::Matrix& m, const MergeFlags& f) {
  const bool colour = colour_wanted(out);
  const auto coloured = [&](const std::vector<std::vector<std::string>>& rows, size_t first_verdict_column) {
    print_table(out, rows, [&](size_t row, size_t column) -> const char* {
      if (!colour || row == 0 || column < first_verdict_column) return nullptr;
      const auto v = cell_verdict(rows[row][column]);
      return v ? verdict_colour(*v) : nullptr;
    });
  };
  std::vector<std::vector<std::string>> legend = {{"COLUMN", "FILE", "TARGET", "STARTED", "CATALOGUE", "STATE"}};
  for (const auto& c : m.columns) {
    legend.push_back({c.name, c.file, c.target + (c.description.empty() ? "" : " (" + c.description + ")"), c.started,
                      c.catalogue_version, c.interrupted ? "interrupted" : c.alive ? "complete" : "target not answering"});
  }
  print_table(out, legend);
  if (m.catalogues_differ) {
    std::fprintf(out, "warning: the reports come from different catalogues: '-' may be a scenario one catalogue lacks\n");
  }
  std::fprintf(out, "\n");

  std::vector<std::vector<std::string>> rows = {{"SCENARIO", "LEVEL"}};
  for (const auto& c : m.columns) rows[0].push_back(c.name);
  size_t shown = 0, differ = 0, matching = 0;
  for (const auto& r : m.rows) {
    if (!selected(f.include, r.id)) continue;
    ++matching;
    if (r.differs()) ++differ;
    if (f.differences && !r.differs()) continue;
    ++shown;
    std::vector<std::string> row = {r.id, r.level};
    for (const auto& c : r.cells) row.push_back(cell_text(c ? std::optional(c->verdict) : std::nullopt));
    rows.push_back(std::move(row));
  }
  if (shown > 0) coloured(rows, 2);
  std::fprintf(out, "%zu scenarios, %zu with different verdicts across the reports%s\n", matching, differ,
               f.differences ? " (only those shown)" : "");

  std::vector<std::vector<std::string>> findings = {{"RUN-WIDE FINDING (rule id|cause)"}};
  for (const auto& c : m.columns) findings[0].push_back(c.name);
  for (const auto& x : m.findings) {
    if (f.differences && !x.differs()) continue;
    std::vector<std::string> row = {x.key};
    for (const auto& c : x.cells) row.push_back(cell_text(c));
    findings.push_back(std::move(row));
  }
  if (findings.size() > 1) {
    std::fprintf(out, "\n");
    coloured(findings, 1);
  }

  std::fprintf(out, "\n");
  std::vector<std::vector<std::string>> totals = {{"SUMMARY"}};
  for (const auto& c : m.columns) totals[0].push_back(c.name);
  for (const auto v : {report::Verdict::kPass, report::Verdict::kNote, report::Verdict::kWarn, report::Verdict::kFail,
                       report::Verdict::kSkip, report::Verdict::kError}) {
    std::vector<std::string> row = {std::string(report::verdict_name(v))};
    for (const auto& c : m.columns) row.push_back(std::to_string(count(c.summary, v)));
    totals.push_back(std::move(row));
  }
  print_table(out, totals);
}

int merge(const MergeFlags& f) {
  if (f.json && *f.json != "-") {
    if (auto why = check_output_path(*f.json); !why.empty()) {
      std::fprintf(stderr, "tftpspec report merge: --json %s: %s\n", f.json->c_str(), why.c_str());
      return kExitUsage;
    }
  }
  if (f.html) {
    if (auto why = file_output_problem(*f.html); !why.empty()) {
      std::fprintf(stderr, "tftpspec report merge: --html %s: %s\n", f.html->c_str(), why.c_str());
      return kExitUsage;
    }
  }
  std::vector<report::NamedReport> reports;
  bool ok = true;
  for (const auto& [name, file] : columns_of(f.inputs)) {
    auto read = report::read_report_file(file);
    if (!read) {
      std::fprintf(stderr, "tftpspec report merge: %s: %s\n", file.c_str(), read.error().to_string().c_str());
      ok = false;  // every bad input is named, not only the first
      continue;
    }
    reports.push_back({name, file, std::move(*read)});
  }
  if (!ok) return kExitUsage;
  const auto matrix = report::build_matrix(reports);
  std::FILE* human = f.json && *f.json == "-" ? stderr : stdout;
  print_matrix(human, matrix, f);
  if (f.json) {
    const std::string text = report::to_json(matrix).dump(2) + "\n";
    if (*f.json == "-") {
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else if (auto written = write_file_atomic(*f.json, text); !written) {
      std::fprintf(stderr, "tftpspec report merge: %s\n", written.error().message.c_str());
      return kExitUsage;
    } else {
      std::fprintf(human, "matrix: %s\n", f.json->c_str());
    }
  }
  if (f.html) {
    std::vector<report::RunReport> runs;
    std::vector<std::string> names;
    for (const auto& r : reports) {
      runs.push_back(r.report);
      names.push_back(r.name);
    }
    if (auto written = write_file_atomic(*f.html, report::render_matrix_html(runs, names)); !written) {
      std::fprintf(stderr, "tftpspec report merge: %s\n", written.error().message.c_str());
      return kExitUsage;
    }
    std::fprintf(human, "matrix page: %s\n", f.html->c_str());
  }
  return kExitOk;
}

struct RenderFlags {
  std::string input;
  std::optional<std::string> html;
  std::optional<std::string> junit;
};

// A stored run shown again: CI keeps the JSON, and a page or a JUnit file can be made from it
// later, exactly as `run` would have written them.
int render(const RenderFlags& f) {
  std::vector<std::pair<std::string, std::string>> outputs;
  if (f.html) outputs.emplace_back("--html", *f.html);
  if (f.junit) outputs.emplace_back("--junit", *f.junit);
  if (outputs.empty()) {
    std::fprintf(stderr, "tftpspec report render: nothing to write: give --html FILE and/or --junit FILE\n");
    return kExitUsage;
  }
  for (const auto& [flag, path] : outputs) {
    if (auto why = file_output_problem(path); !why.empty()) {
      std::fprintf(stderr, "tftpspec report render: %s %s: %s\n", flag.c_str(), path.c_str(), why.c_str());
      return kExitUsage;
    }
  }
  auto read = report::read_report_file(f.input);
  if (!read) {
    std::fprintf(stderr, "tftpspec report render: %s: %s\n", f.input.c_str(), read.error().to_string().c_str());
    return kExitUsage;
  }
  for (const auto& [flag, path] : outputs) {
    if (auto written = write_file_atomic(path, render_report(flag, *read)); !written) {
      std::fprintf(stderr, "tftpspec report render: %s\n", written.error().message.c_str());
      return kExitUsage;
    }
    std::printf("%s: %s\n", flag.substr(2).c_str(), path.c_str());
  }
  return kExitOk;
}

}  // namespace

void add_report_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("report", "Work with JSON reports: merge several into a matrix, render one as HTML or JUnit");
  cmd->require_subcommand(1);
  auto flags = std::make_shared<MergeFlags>();
  auto* merge_cmd = cmd->add_subcommand("merge", "One matrix of servers by scenarios from several JSON reports");
  merge_cmd->footer(
      "\nEach report is one column (named by its file's stem, or NAME=FILE), each scenario a row with the verdict of\n"
      "every run ('-': not in that run), then the run-wide findings and the totals. A report that cannot be read\n"
      "(truncated, not a tftpspec report, a newer format) is named and the command exits 2; otherwise it exits 0\n"
      "whatever the verdicts: merging judges nothing. The matrix JSON follows reports/tftpspec-matrix.schema.json.\n"
      "Examples:\n"
      "  tftpspec report merge hpa.json atftpd.json dnsmasq.json\n"
      "  tftpspec report merge old=r1.json new=r2.json --differences\n"
      "  tftpspec report merge reports/*.json --scenario 'rfc2348.*' --json matrix.json\n"
      "  tftpspec report merge reference.json tftpd-hpa.json atftpd.json dnsmasq.json --html matrix.html\n");
  merge_cmd->add_option("reports", flags->inputs, "JSON reports (FILE or NAME=FILE), one column each")->required();
  merge_cmd->add_option("--json", flags->json, "Write the matrix as JSON to FILE, '-' for stdout (the table then goes to stderr)");
  merge_cmd->add_option("--html", flags->html,
                        "Write the matrix as one self-contained HTML page to FILE: each non-pass cell links to that "
                        "run's evidence, embedded in the same page");
  merge_cmd->add_flag("--differences", flags->differences,
                      "Show only the scenarios and findings whose verdicts differ between the reports");
  merge_cmd->add_option("--scenario", flags->include, "Show only scenarios whose id matches GLOB (repeatable)");
  merge_cmd->callback([flags, &action] { action = [flags] { return merge(*flags); }; });

  auto render_flags = std::make_shared<RenderFlags>();
  auto* render_cmd = cmd->add_subcommand("render", "Write one JSON report again as an HTML page and/or JUnit XML");
  render_cmd->footer(
      "\nThe page and the JUnit file are those `run --html` and `run --junit` would have written. A report that cannot\n"
      "be read (truncated, not a tftpspec report, a newer format) exits 2, as does an unwritable output.\n"
      "Example:\n"
      "  tftpspec report render tftpd-hpa.json --html tftpd-hpa.html --junit tftpd-hpa.junit.xml\n");
  render_cmd->add_option("report", render_flags->input, "The JSON report")->required();
  render_cmd->add_option("--html", render_flags->html, "Write the report as one self-contained HTML page to FILE");
  render_cmd->add_option("--junit", render_flags->junit, "Write the report as JUnit XML to FILE");
  render_cmd->callback([render_flags, &action] { action = [render_flags] { return render(*render_flags); }; });
}

}  // namespace tftp::cli
