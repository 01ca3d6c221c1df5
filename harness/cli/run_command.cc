// tftpspec run / fixtures: the conformance catalogue against a target.
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "client/client.h"
#include "common/hash.h"
#include "report/json_report.h"
#include "scenario/fixtures.h"
#include "scenario/loader.h"
#include "scenario/reference_faults.h"
#include "scenario/runner.h"

#ifndef TFTPSPEC_SCENARIO_DIR
#define TFTPSPEC_SCENARIO_DIR "scenarios"
#endif

namespace tftp::cli {

namespace {

struct RunFlags {
  std::optional<std::string> target;
  std::optional<std::string> root;
  bool upload_fixtures = false;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  int jobs = 0;
  std::optional<std::string> json;
  uint64_t seed = 0;
  bool list = false;
  bool slow = false;
  bool verbose = false;
  std::string scenarios;
  std::vector<std::string> reference_faults;
};

std::string default_scenario_dir() {
  if (const char* env = std::getenv("TFTPSPEC_SCENARIOS")) return env;
  if (std::filesystem::is_directory(TFTPSPEC_SCENARIO_DIR)) return TFTPSPEC_SCENARIO_DIR;
  return "scenarios";
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,[]") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string catalogue_digest(const std::string& dir, size_t count) {
  uint64_t h = kFnv1aOffset;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    h = fnv1a(std::filesystem::relative(f, dir).string() + s.str(), h);
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%zu-scenarios-%016llx", count, static_cast<unsigned long long>(h));
  return buf;
}

// SGR colour of a verdict word on a terminal (https://no-color.org: never with NO_COLOR).
const char* verdict_colour(report::Verdict v) {
  switch (v) {
    case report::Verdict::kPass: return "\033[32m";
    case report::Verdict::kNote: return "\033[36m";
    case report::Verdict::kWarn: return "\033[33m";
    case report::Verdict::kFail: return "\033[1;31m";
    case report::Verdict::kSkip: return "\033[2m";
    case report::Verdict::kError: return "\033[35m";
  }
  return "";
}

// -v: the evidence as a ladder, harness on the left, target on the right, one arrow per
// datagram in time order, with the ports, so a TID change is visible at a glance.
void print_ladder(std::FILE* out, const report::ScenarioResult& r) {
  constexpr size_t kWidth = 56;
  std::fprintf(out, "        %9s  %-21s  %*s  %s\n", "t (ms)", "harness", static_cast<int>(kWidth), "", "target");
  bool elision_shown = false;
  for (size_t i = 0; i < r.evidence.size(); ++i) {
    const auto& e = r.evidence[i];
    if (!elision_shown && r.evidence_elided > 0 && i > 0 && e.index > r.evidence[i - 1].index + 1) {
      std::fprintf(out, "        %9s  ... %zu datagrams not kept ...\n", "", r.evidence_elided);
      elision_shown = true;
    }
    std::string label = e.packet.size() > kWidth - 8 ? e.packet.substr(0, kWidth - 11) + "..." : e.packet;
    const bool sent = e.direction == "sent";
    const size_t dashes = kWidth - label.size() - 4;
    const std::string line = sent ? "-- " + label + " " + std::string(dashes, '-') + ">"
                                  : "<" + std::string(dashes, '-') + " " + label + " --";
    const std::string& ours = sent ? e.from : e.to;
    const std::string& theirs = sent ? e.to : e.from;
    std::fprintf(out, "        %9.3f  %-21s |%s| %s\n", e.t_ms, ours.c_str(), line.c_str(), theirs.c_str());
  }
}

void print_result(std::FILE* out, const report::ScenarioResult& r, bool verbose, bool colour) {
  const std::string word(report::verdict_name(r.verdict));
  if (colour) {
    std::fprintf(out, "  %s%-5s\033[0m %-58s %8.1f ms\n", verdict_colour(r.verdict), word.c_str(), r.id.c_str(), r.duration_ms);
  } else {
    std::fprintf(out, "  %-5s %-58s %8.1f ms\n", word.c_str(), r.id.c_str(), r.duration_ms);
  }
  if (r.verdict == report::Verdict::kPass) return;
  if (!r.decided_by.empty()) std::fprintf(out, "        [%s]\n", r.decided_by.c_str());
  std::fprintf(out, "        %s\n", r.reason.c_str());
  if (!r.expected.empty()) std::fprintf(out, "        expected: %s\n", r.expected.c_str());
  if (!r.observed.empty()) std::fprintf(out, "        observed: %s\n", r.observed.c_str());
  if (!verbose) return;
  print_ladder(out, r);
  std::fflush(out);
}

// The live status line on a terminal: done/total, elapsed, the scenarios running now. It is
// erased before each result line and drawn again after, so the log above stays clean; when
// the output is not a terminal nothing of it is written.
class Progress {
 public:
  Progress(std::FILE* out, size_t total, bool verbose)
      : out_(out), total_(total), verbose_(verbose), tty_(::isatty(::fileno(out)) == 1),
        colour_(tty_ && std::getenv("NO_COLOR") == nullptr), started_(real_now()) {}

  void started(const std::string& id) {
    std::lock_guard lock(mutex_);
    running_.insert(id);
  }
  void finished(const report::ScenarioResult& r) {
    std::lock_guard lock(mutex_);
    clear();
    running_.erase(r.id);
    ++done_;
    print_result(out_, r, verbose_, colour_);
    draw();
  }
  void tick() {
    std::lock_guard lock(mutex_);
    if (real_now() - last_draw_ > std::chrono::milliseconds(200)) draw();
  }
  void end() {
    std::lock_guard lock(mutex_);
    clear();
    tty_ = false;
  }

 private:
  void clear() {
    if (tty_ && shown_) std::fputs("\r\033[K", out_);
    shown_ = false;
  }
  void draw() {
    if (!tty_) return;
    std::string names = done_ == 0 && running_.empty() ? "discovering the target" : "";
    for (const auto& id : running_) {
      if (names.size() > 60) {
        names += " ...";
        break;
      }
      names += (names.empty() ? "" : " ") + id;
    }
    clear();
    std::fprintf(out_, "[%zu/%zu] %.0f s  %s", done_, total_, to_seconds(real_now() - started_), names.c_str());
    std::fflush(out_);
    shown_ = true;
    last_draw_ = real_now();
  }

  std::mutex mutex_;
  std::FILE* out_;
  size_t total_;
  size_t done_ = 0;
  bool verbose_;
  bool tty_;
  bool colour_;
  bool shown_ = false;
  Instant started_;
  Instant last_draw_{};
  std::set<std::string> running_;
};

std::string comma_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out.empty() ? "-" : out;
}

// `run --list`: the selection in aligned columns (id, level, group, needs, tags, citation,
// title), or as JSON with --json (to stdout: a list writes no report).
void print_selection(const std::vector<const scenario::Scenario*>& selected, bool as_json) {
  if (as_json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto* s : selected) {
      out.push_back({{"id", s->id},
                     {"title", s->title},
                     {"citation", s->citation},
                     {"requirements", s->requirements},
                     {"level", std::string(scenario::level_name(s->level))},
                     {"group", s->slow ? "slow" : "default"},
                     {"needs", s->needs},
                     {"tags", s->tags},
                     {"fixtures", s->fixtures},
                     {"deadline_s", to_seconds(s->deadline)},
                     {"file", s->where.to_string()}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  const std::vector<std::string> header = {"ID", "LEVEL", "GROUP", "NEEDS", "TAGS", "CITATION", "TITLE"};
  std::vector<std::vector<std::string>> rows = {header};
  for (const auto* s : selected) {
    rows.push_back({s->id, std::string(scenario::level_name(s->level)), s->slow ? "slow" : "default", comma_list(s->needs),
                    comma_list(s->tags), s->citation, s->title});
  }
  // Columns are padded by what a terminal shows, not by bytes: a citation holds a two-byte '§'.
  const auto shown = [](const std::string& t) {
    return static_cast<size_t>(std::count_if(t.begin(), t.end(), [](char ch) { return (ch & 0xC0) != 0x80; }));
  };
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], shown(row[c]));
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - shown(row[c]) + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
  std::printf("%zu scenarios\n", selected.size());
}

// What a reader needs first: whether the verdicts can be trusted at all (a dead target, an
// interruption, set-up problems), then what discovery measured, then the run-wide findings.
void print_run_summary(std::FILE* out, const report::RunReport& report) {
  const auto& t = report.target;
  if (report.target_died_after) {
    std::fprintf(out, "THE TARGET STOPPED ANSWERING after %s: the scenarios after it are errors, not verdicts\n",
                 report.target_died_after->c_str());
  }
  if (report.interrupted) std::fprintf(out, "interrupted: the report holds what finished\n");
  for (const auto& f : t.fixtures) {
    if (f.status != "ok") std::fprintf(out, "fixture %s is %s: %s\n", f.name.c_str(), f.status.c_str(), f.detail.c_str());
  }
  std::fprintf(out, "target: %s, %s; capabilities: ", t.address.c_str(), t.alive ? "alive" : "NOT ANSWERING");
  for (const auto& c : t.capabilities) std::fprintf(out, "%s ", c.c_str());
  std::fprintf(out, "; retransmission timeout %.0f ms (mid-transfer %.0f ms); round trip %.2f ms (jitter %.2f ms, %d samples)\n",
               t.rto_ms, t.srto_ms, t.path.rtt_ms, t.path.jitter_ms, t.path.samples);
  for (const auto& n : t.notes) std::fprintf(out, "note: %s\n", n.c_str());
  if (!report.findings.empty()) std::fprintf(out, "findings seen along the way (one per rule and cause):\n");
  for (const auto& f : report.findings) {
    std::fprintf(out, "  %-5s %s (%s) in %zu scenario%s, first %s\n        %s\n",
                 std::string(report::verdict_name(f.verdict)).c_str(), f.finding.id.c_str(), f.finding.citation.c_str(),
                 f.scenarios.size(), f.scenarios.size() == 1 ? "" : "s", f.first_seen_in.c_str(), f.finding.message.c_str());
  }
}

std::string join(const std::vector<std::string>& globs, const std::string& prefix) {
  std::string out;
  for (const auto& g : globs) out += (out.empty() ? "" : " ") + prefix + shell_quote(g);
  return out;
}

}  // namespace

// Checks before the run that the report can be written where asked: the directory exists
// and we may create a file in it (tried, then removed). "-" is stdout. Empty when fine.
std::string check_output_path(const std::string& path) {
  if (path == "-") return {};
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return path + " is a directory";
  const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) return "directory " + dir.string() + " does not exist";
  std::string probe = (dir / ".tftpspec-write-check-XXXXXX").string();
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) return "cannot create a file in " + dir.string() + ": " + std::strerror(errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return {};
}

namespace {

// Runs the catalogue on a thread of its own, so that an interrupt ends the run within
// about a second even if a scenario is slow to notice: after kInterruptGrace the report
// is made from the results delivered so far, and the remaining scenarios are marked
// interrupted. `finished` is false in that case and the run thread is left behind (the
// process must _exit right after writing the report).
constexpr Duration kInterruptGrace = std::chrono::milliseconds(700);

struct RunOutcome {
  report::RunReport report;
  bool finished = false;
};

RunOutcome run_interruptible(const std::vector<scenario::Scenario>& catalogue, scenario::Target& target,
                             scenario::RunOptions options, const std::vector<const scenario::Scenario*>& selected,
                             const std::function<void()>& tick) {
  struct Shared {
    std::mutex mutex;
    std::condition_variable changed;
    bool done = false;
    report::RunReport report;
    std::vector<report::ScenarioResult> delivered;
  };
  // Shared with the run thread, which may outlive this function (see above).
  auto shared = std::make_shared<Shared>();
  auto on_result = options.on_result;
  options.on_result = [shared, on_result](const report::ScenarioResult& r) {
    if (on_result) on_result(r);
    std::lock_guard lock(shared->mutex);
    shared->delivered.push_back(r);
  };
  const Instant started = real_now();
  const auto* catalogue_ptr = &catalogue;
  auto* target_ptr = &target;
  std::thread runner([shared, catalogue_ptr, target_ptr, options] {
    auto report = scenario::run_catalogue(*catalogue_ptr, *target_ptr, options);
    std::lock_guard lock(shared->mutex);
    shared->report = std::move(report);
    shared->done = true;
    shared->changed.notify_all();
  });

  std::unique_lock lock(shared->mutex);
  std::optional<Instant> interrupted_at;
  while (!shared->done) {
    // Signals set a flag and cannot notify: look at it every 50 ms.
    shared->changed.wait_for(lock, std::chrono::milliseconds(50));
    if (tick) tick();
    if (!interrupted_at && g_interrupted.load()) interrupted_at = real_now();
    if (interrupted_at && real_now() - *interrupted_at > kInterruptGrace) break;
  }
  if (shared->done) {
    lock.unlock();
    runner.join();
    return {std::move(shared->report), true};
  }
  runner.detach();

  RunOutcome out;
  auto& r = out.report;
  r.target = target.describe();
  r.interrupted = true;
  r.seed = options.seed;
  r.results = shared->delivered;
  std::set<std::string> finished;
  for (const auto& x : r.results) finished.insert(x.id);
  for (const auto* s : selected) {
    if (finished.count(s->id)) continue;
    auto u = scenario::result_header(*s);
    u.verdict = report::Verdict::kError;
    u.reason = scenario::kInterruptedReason;
    r.results.push_back(std::move(u));
  }
  report::order_and_summarize(r);
  r.duration_ms = to_ms(real_now() - started);
  return out;
}

// Uploads every fixture by WRQ, for targets whose root the harness cannot write.
bool upload_fixtures(const Address& target) {
  bool ok = true;
  for (const auto& f : scenario::fixtures()) {
    client::Request request;
    request.server = target;
    request.remote = f.name;
    request.options = client::make_options(f.size > (1 << 16) ? std::optional<size_t>(1428) : std::nullopt, std::nullopt,
                                           std::nullopt, std::nullopt);
    request.transfer.dally = Duration::zero();
    auto report = client::upload(request, std::make_unique<engine::MemorySource>(*scenario::fixture_bytes(f.name)));
    if (report && report->outcome.kind == engine::OutcomeKind::kPeerError && report->outcome.error_code == 6) {
      // Already there (the server does not overwrite): discovery compares its content, and a
      // stale copy becomes a set-up error naming it, never the target's fail.
      std::fprintf(stderr, "tftpspec run: fixture %s already exists on the target; its content is checked before the run\n",
                   f.name.c_str());
      continue;
    }
    if (!report || !report->outcome.ok()) {
      std::fprintf(stderr, "tftpspec run: cannot upload fixture %s: %s\n", f.name.c_str(),
                   report ? report->outcome.to_string().c_str() : report.error().message.c_str());
      ok = false;
    }
  }
  return ok;
}

int run(const RunFlags& f, const std::string& command) {
  // With --json -, stdout carries the report alone: everything for people goes to stderr.
  const bool json_to_stdout = f.json && *f.json == "-";
  std::FILE* human = json_to_stdout ? stderr : stdout;
  if (f.json && !f.list) {  // --list writes no report
    if (f.json->empty()) {
      std::fprintf(stderr, "tftpspec run: --json needs FILE, or - for stdout (only --list --json takes none); nothing was run\n");
      return kExitUsage;
    }
    if (auto why = check_output_path(*f.json); !why.empty()) {
      std::fprintf(stderr, "tftpspec run: --json %s: %s; nothing was run\n", f.json->c_str(), why.c_str());
      return kExitUsage;
    }
  }
  const std::string dir = f.scenarios.empty() ? default_scenario_dir() : f.scenarios;
  auto catalogue = scenario::load_catalogue(dir);
  if (!catalogue) {
    std::fprintf(stderr, "tftpspec run: %s\n", catalogue.error().to_string().c_str());
    return kExitUsage;
  }
  scenario::RunOptions options;
  options.include = f.include;
  options.exclude = f.exclude;
  options.include_slow = f.slow;
  options.seed = f.seed != 0 ? f.seed : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  options.cancel = &g_interrupted;

  const auto selected = scenario::select(*catalogue, options);
  if (selected.empty()) {
    // A CI whose globs went stale must not read "nothing failed" as a pass.
    std::string globs = join(f.include, "--scenario ");
    if (!f.exclude.empty()) globs += (globs.empty() ? "" : " ") + join(f.exclude, "--exclude ");
    auto with_slow = options;
    with_slow.include_slow = true;
    const bool slow_only = !f.slow && !scenario::select(*catalogue, with_slow).empty();
    std::fprintf(stderr, "tftpspec run: no scenario matches %s in %s%s\n", globs.empty() ? "the selection" : globs.c_str(),
                 dir.c_str(), slow_only ? " outside the slow group (--slow includes it)" : " (--list shows the catalogue)");
    return kExitUsage;
  }
  if (f.list) {
    print_selection(selected, f.json.has_value());
    return kExitOk;
  }

  std::unique_ptr<scenario::Target> target;
  if (f.target) {
    auto address = Address::parse(*f.target, 69);
    if (!address) {
      std::fprintf(stderr, "tftpspec run: --target %s: %s\n", f.target->c_str(), address.error().message.c_str());
      return kExitUsage;
    }
    if (f.root) {
      auto written = scenario::write_fixtures(*f.root);
      if (!written) {
        std::fprintf(stderr, "tftpspec run: --root: %s\n", written.error().message.c_str());
        return kExitUsage;
      }
    }
    if (f.upload_fixtures && !upload_fixtures(*address)) return kExitUsage;
    target = std::make_unique<scenario::UdpTarget>(*address, /*fixtures_written=*/f.root.has_value());
    options.jobs = f.jobs > 0 ? f.jobs : 16;  // mostly waiting on the target's timers
  } else {
    if (!f.reference_faults.empty() && f.target) {
      std::fprintf(stderr, "tftpspec run: --reference-fault applies to the embedded server only\n");
      return kExitUsage;
    }
    if (f.root || f.upload_fixtures) {
      std::fprintf(stderr, "tftpspec run: --root and --upload-fixtures need --target (the embedded server has its fixtures)\n");
      return kExitUsage;
    }
    auto config = scenario::EmbeddedTarget::default_config();
    for (const auto& name : f.reference_faults) {
      const auto* fault = scenario::find_reference_fault(name);
      if (fault == nullptr) {
        std::fprintf(stderr, "tftpspec run: unknown --reference-fault %s; known:\n", name.c_str());
        for (const auto& k : scenario::reference_faults()) std::fprintf(stderr, "  %-26s %s\n", k.name.c_str(), k.breaks.c_str());
        return kExitUsage;
      }
      fault->apply(config);
    }
    target = std::make_unique<scenario::EmbeddedTarget>(config);
    options.jobs = f.jobs > 0 ? f.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  const bool verbose = f.verbose;
  // The sanity scenario runs first and last: two more results than selected.
  auto progress = std::make_shared<Progress>(human, selected.size() + 2, verbose);
  options.on_result = [progress](const report::ScenarioResult& r) { progress->finished(r); };
  options.on_start = [progress](const std::string& id) { progress->started(id); };

  std::fprintf(human, "tftpspec run: %zu scenarios against %s (seed %llu)\n", selected.size(),
               target->describe().address.c_str(), static_cast<unsigned long long>(options.seed));
  std::fflush(human);
  auto outcome = run_interruptible(*catalogue, *target, options, selected, [progress] { progress->tick(); });
  progress->end();
  auto& report = outcome.report;
  // Discovery may have been cut short too: any interrupt makes the report partial.
  report.interrupted = report.interrupted || g_interrupted.load();
  report.seed = options.seed;
  report.tool_version = "0.1.0";
  report.command = command;
  report.catalogue_version = catalogue_digest(dir, catalogue->size());
  report.selection = f.include;
  for (const auto& e : f.exclude) report.selection.push_back("!" + e);
  if (f.slow) report.selection.push_back("group:slow");

  print_run_summary(human, report);
  int code = kExitOk;
  const auto& s = report.summary;
  if (report.interrupted) {
    code = interrupted_exit_code();
  } else if (s.fail > 0 || s.findings_fail > 0) {
    code = kExitFailure;
  } else if (s.error > 0 || !report.target.alive) {
    code = kExitUsage;
  }
  if (f.json) {
    const std::string text = report::to_json(report).dump(2) + "\n";
    if (json_to_stdout) {
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else if (auto written = report::write_file_atomic(*f.json, text); !written) {
      std::fprintf(stderr, "tftpspec run: %s\n", written.error().message.c_str());
      code = kExitUsage;
    } else {
      std::fprintf(human, "report: %s\n", f.json->c_str());
    }
  }
  std::fprintf(human, "summary: %d pass, %d note, %d fail, %d warn, %d skip, %d error; run-wide findings: %d fail, %d warn, %d note; in %.2f s\n",
               s.pass, s.note, s.fail, s.warn, s.skip, s.error, s.findings_fail, s.findings_warn, s.findings_note,
               report.duration_ms / 1000);
  std::fprintf(human, "%d passed, %d failed\n", s.pass + s.note, s.fail);
  std::fflush(stdout);
  std::fflush(stderr);
  // The run thread still holds the catalogue and the target: leave without destructors.
  if (!outcome.finished) _exit(code);
  return code;
}

int fixtures_command(const std::string& dir) {
  auto written = scenario::write_fixtures(dir);
  if (!written) {
    std::fprintf(stderr, "tftpspec fixtures: %s\n", written.error().message.c_str());
    return kExitUsage;
  }
  for (const auto& f : scenario::fixtures()) std::printf("  %-14s %8llu bytes  %s\n", f.name.c_str(),
                                                          static_cast<unsigned long long>(f.size), f.purpose.c_str());
  std::printf("wrote %zu fixtures to %s: make them readable by the server at its root\n", *written, dir.c_str());
  return kExitOk;
}

}  // namespace

void add_run_command(CLI::App& app, Action& action, int argc, char** argv) {
  auto flags = std::make_shared<RunFlags>();
  auto* cmd = app.add_subcommand("run", "Run the conformance catalogue against a TFTP server (default: the embedded reference server)");
  cmd->footer(
      "\nVerdicts come from each scenario's own requirement: pass; note (a pass with behaviour the RFCs leave open,\n"
      "e.g. the block number after 65535); warn (a SHOULD broken); fail (a MUST broken); skip (capability missing, or\n"
      "over its budget at the measured round trip); error (not judgeable: a fixture missing or different, the target\n"
      "stopped answering, interrupted). Other rules' findings are listed once per run under 'findings'.\n"
      "Before the scenarios, discovery checks the fixtures the selection needs and measures the round trip.\n"
      "Exit status: 0 no failure, 1 some scenario failed or a run-wide finding broke a MUST, 2 usage or harness error (also: no scenario\n"
      "selected, report path not writable), 130/143 interrupted by SIGINT/SIGTERM: the run ends within\n"
      "about a second and the partial report (interrupted: true) is written; a second signal exits at once.\n"
      "Examples:\n"
      "  tftpspec run                                        the embedded reference server, virtual time\n"
      "  tftpspec run --target 127.0.0.1:6969 --root /srv/tftp --json report.json\n"
      "  tftpspec run --target [::1]:69 --scenario 'rfc2348.*' --jobs 4\n");
  cmd->add_option("--target", flags->target, "HOST[:PORT] of the server under test (port 69 by default)");
  cmd->add_option("--root", flags->root, "Write the fixtures into the target's root DIR first");
  cmd->add_flag("--upload-fixtures", flags->upload_fixtures,
                "Upload the fixtures by WRQ first (the target must allow it). Files already there are kept and "
                "checked like any others. TFTP cannot delete: the uploaded files stay on the target");
  cmd->add_option("--scenario", flags->include,
                  "Run only scenarios whose id matches GLOB (repeatable); a selection matching nothing exits 2");
  cmd->add_option("--exclude", flags->exclude, "Skip scenarios whose id matches GLOB (repeatable)");
  cmd->add_option("--jobs,-j", flags->jobs, "Scenarios run at once (default: 16 for a real target, the core count embedded)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--json", flags->json,
                  "Write the JSON report to FILE, '-' for stdout (then the progress goes to stderr); the "
                  "directory is checked before the run (schema: reports/tftpspec-report.schema.json). "
                  "With --list, print the selection as JSON (no FILE needed)")
      ->expected(0, 1);
  cmd->add_option("--seed", flags->seed, "Seed for unique names and the virtual network (default: from the clock; in the report)");
  cmd->add_flag("--list", flags->list, "List the selected scenarios and exit");
  cmd->add_flag("--slow", flags->slow, "Include the slow group (scenarios that wait for the target to give up)");
  cmd->add_flag("-v,--verbose", flags->verbose, "Print the datagram evidence of every non-pass");
  cmd->add_option("--reference-fault", flags->reference_faults,
                  "Make the embedded reference server break one rule on purpose (repeatable; 'list' lists them) "
                  "to see which scenarios catch it");
  cmd->add_option("--scenarios", flags->scenarios, "Scenario directory (default: $TFTPSPEC_SCENARIOS or the source tree's)");
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + shell_quote(argv[i]);
  cmd->callback([flags, &action, command] { action = [flags, command] { return run(*flags, command); }; });

  auto dir = std::make_shared<std::string>();
  auto* fx = app.add_subcommand("fixtures", "Write the files a target must serve for the catalogue into DIR");
  fx->add_option("dir", *dir, "Directory (created if missing)")->required();
  fx->callback([dir, &action] { action = [dir] { return fixtures_command(*dir); }; });
}

}  // namespace tftp::cli
