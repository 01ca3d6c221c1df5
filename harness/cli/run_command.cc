// tftpspec run / fixtures: the conformance catalogue against a target.
#include <unistd.h>

#include <algorithm>
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
#include <variant>

#include "cli/commands.h"
#include "common/atomic_file.h"
#include "cli/terminal.h"
#include "client/client.h"
#include "common/hash.h"
#include "report/html_report.h"
#include "report/baseline.h"
#include "report/json_reader.h"
#include "report/json_report.h"
#include "report/junit_report.h"
#include "report/ladder.h"
#include "scenario/catalogue_path.h"
#include "scenario/fixtures.h"
#include "scenario/loader.h"
#include "scenario/reference_faults.h"
#include "scenario/runner.h"
#include "scenario/wire_capture.h"

namespace tftp::cli {

namespace {

struct RunFlags {
  // The flags that choose the target, the scenarios and the catalogue: the report stores
  // them (its `run` object) and `rerun` starts from them.
  report::RunSettings settings;
  std::optional<std::string> json;
  std::optional<std::string> junit;
  std::optional<std::string> html;
  uint64_t seed = 0;
  bool list = false;
  bool verbose = false;
  std::optional<std::string> baseline;
  std::optional<std::string> pcap;  // --pcap FILE: every datagram of the run
  // Not a flag: set by `rerun` to the repeated report's catalogue digest, to warn when the
  // scenarios changed since.
  std::optional<std::string> rerun_of_catalogue;
};

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,[]") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string catalogue_digest(const std::string& dir, size_t count) {
  uint64_t h = kFnv1aOffset;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_regular_file(dir)) files.push_back(dir);  // --scenarios FILE
  for (const auto& e : files.empty() ? std::filesystem::recursive_directory_iterator(dir)
                                     : std::filesystem::recursive_directory_iterator()) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    h = fnv1a((f == dir ? f.filename() : std::filesystem::relative(f, dir)).string() + s.str(), h);
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%zu-scenarios-%016llx", count, static_cast<unsigned long long>(h));
  return buf;
}

void print_result(std::FILE* out, const report::ScenarioResult& r, bool verbose, bool colour) {
  const std::string word(report::verdict_name(r.verdict));
  if (colour) {
    std::fprintf(out, "  %s%-5s%s %-58s %8.1f ms\n", verdict_colour(r.verdict), word.c_str(), kColourReset, r.id.c_str(),
                 r.duration_ms);
  } else {
    std::fprintf(out, "  %-5s %-58s %8.1f ms\n", word.c_str(), r.id.c_str(), r.duration_ms);
  }
  // A measured schedule is shown whatever the verdict: the curve is the finding.
  for (const auto& c : r.retransmissions) std::fprintf(out, "        retransmissions of %s\n", c.text().c_str());
  if (r.verdict == report::Verdict::kPass) return;
  if (!r.decided_by.empty()) std::fprintf(out, "        [%s]\n", r.decided_by.c_str());
  std::fprintf(out, "        %s\n", r.reason.c_str());
  if (!r.expected.empty()) std::fprintf(out, "        expected: %s\n", r.expected.c_str());
  if (!r.observed.empty()) std::fprintf(out, "        observed: %s\n", r.observed.c_str());
  if (!verbose) return;
  std::fputs(report::render_ladder(r.evidence, r.evidence_elided, "        ").c_str(), out);
  std::fflush(out);
}

// The live status line on a terminal: done/total, elapsed, the scenarios running now. It is
// erased before each result line and drawn again after, so the log above stays clean; when
// the output is not a terminal nothing of it is written.
class Progress {
 public:
  Progress(std::FILE* out, size_t total, bool verbose)
      : out_(out), total_(total), verbose_(verbose), tty_(::isatty(::fileno(out)) == 1), colour_(colour_wanted(out)),
        started_(real_now()) {}

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
    std::fflush(out_);  // a log or a pipe (CI, tee) shows each verdict as it comes
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
void print_selection(const std::vector<const scenario::Scenario*>& selected, bool as_json, const std::string& dir) {
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
  print_table(stdout, rows);
  std::printf("%zu scenarios from %s\n", selected.size(), dir.c_str());
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

// The report files asked for, as (flag, path): each is checked before the run and written
// after it, interrupted or not.
std::vector<std::pair<std::string, std::string>> report_outputs(const RunFlags& f) {
  std::vector<std::pair<std::string, std::string>> out;
  if (f.list) return out;  // a list writes no report (--list --json prints the selection)
  if (f.json) out.emplace_back("--json", *f.json);
  if (f.junit) out.emplace_back("--junit", *f.junit);
  if (f.html) out.emplace_back("--html", *f.html);
  return out;
}

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
    if ((!report || !report->outcome.ok()) && f.name.find('/') != std::string::npos) {
      // TFTP cannot create directories: the run goes on, and discovery names the fixture
      // as missing for the scenarios that need it.
      std::fprintf(stderr, "tftpspec run: cannot upload fixture %s (%s): create its directory in the target's root first\n",
                   f.name.c_str(), report ? report->outcome.to_string().c_str() : report.error().message.c_str());
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
  const auto outputs = report_outputs(f);
  // With a report to stdout ("-"), stdout carries it alone: everything for people goes to stderr.
  const auto to_stdout = std::count_if(outputs.begin(), outputs.end(), [](const auto& o) { return o.second == "-"; });
  std::FILE* human = to_stdout > 0 ? stderr : stdout;
  if (to_stdout > 1) {
    std::fprintf(stderr, "tftpspec run: only one report can go to stdout ('-'); nothing was run\n");
    return kExitUsage;
  }
  for (const auto& [flag, path] : outputs) {
    if (path.empty()) {
      std::fprintf(stderr, "tftpspec run: %s needs FILE, or - for stdout (only --list --json takes none); nothing was run\n",
                   flag.c_str());
      return kExitUsage;
    }
    if (auto why = check_output_path(path); !why.empty()) {
      std::fprintf(stderr, "tftpspec run: %s %s: %s; nothing was run\n", flag.c_str(), path.c_str(), why.c_str());
      return kExitUsage;
    }
  }
  // A bad baseline is reported before the run, not after it.
  std::optional<report::BaselineFile> baseline;
  if (f.baseline) {
    auto read = report::read_baseline_file(*f.baseline);
    if (!read) {
      std::fprintf(stderr, "tftpspec run: --baseline %s: %s; nothing was run\n", f.baseline->c_str(),
                   read.error().to_string().c_str());
      return kExitUsage;
    }
    baseline = std::move(*read);
  }
  std::string dir = f.settings.scenarios.value_or("");
  if (dir.empty()) {
    auto found = scenario::find_own_catalogue();
    if (!found) {
      std::fprintf(stderr, "tftpspec run: %s\n", found.error().message.c_str());
      return kExitUsage;
    }
    dir = found->string();
  }
  auto catalogue = scenario::load_catalogue(dir);
  if (!catalogue) {
    std::fprintf(stderr, "tftpspec run: %s\n", catalogue.error().to_string().c_str());
    return kExitUsage;
  }
  const std::string digest = catalogue_digest(dir, catalogue->size());
  if (f.rerun_of_catalogue && *f.rerun_of_catalogue != digest) {
    std::fprintf(stderr,
                 "tftpspec rerun: warning: the catalogue in %s is %s, the report's was %s: the scenarios changed "
                 "since, so the verdicts may differ for that reason alone\n",
                 dir.c_str(), digest.c_str(), f.rerun_of_catalogue->c_str());
  }
  scenario::RunOptions options;
  options.include = f.settings.include;
  options.exclude = f.settings.exclude;
  options.include_slow = f.settings.slow;
  options.seed = f.seed != 0 ? f.seed : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  options.cancel = &g_interrupted;

  const auto selected = scenario::select(*catalogue, options);
  if (selected.empty()) {
    // A CI whose globs went stale must not read "nothing failed" as a pass.
    std::string globs = join(f.settings.include, "--scenario ");
    if (!f.settings.exclude.empty()) globs += (globs.empty() ? "" : " ") + join(f.settings.exclude, "--exclude ");
    auto with_slow = options;
    with_slow.include_slow = true;
    const bool slow_only = !f.settings.slow && !scenario::select(*catalogue, with_slow).empty();
    std::fprintf(stderr, "tftpspec run: no scenario matches %s in %s%s\n", globs.empty() ? "the selection" : globs.c_str(),
                 dir.c_str(), slow_only ? " outside the slow group (--slow includes it)" : " (--list shows the catalogue)");
    return kExitUsage;
  }
  if (f.list) {
    print_selection(selected, f.json.has_value(), dir);
    return kExitOk;
  }

  std::unique_ptr<scenario::Target> target;
  std::unique_ptr<scenario::PlantedCanary> canary;  // removed when the run is over
  if (f.settings.target) {
    auto address = Address::parse(*f.settings.target, 69);
    if (!address) {
      std::fprintf(stderr, "tftpspec run: --target %s: %s\n", f.settings.target->c_str(), address.error().message.c_str());
      return kExitUsage;
    }
    if (f.settings.root) {
      auto written = scenario::write_fixtures(*f.settings.root);
      if (!written) {
        std::fprintf(stderr, "tftpspec run: --root: %s\n", written.error().message.c_str());
        return kExitUsage;
      }
      // Not fatal: without it only the scenarios that need it skip, saying so.
      if (auto planted = scenario::plant_canary(*f.settings.root)) {
        canary = std::move(*planted);
      } else {
        std::fprintf(stderr, "tftpspec run: --root: %s (the canary scenarios will skip)\n", planted.error().message.c_str());
      }
    }
    if (f.settings.upload_fixtures && !upload_fixtures(*address)) return kExitUsage;
    target = std::make_unique<scenario::UdpTarget>(*address, /*fixtures_written=*/f.settings.root.has_value(),
                                                   /*canary_planted=*/canary != nullptr);
    options.jobs = f.settings.jobs > 0 ? f.settings.jobs : 16;  // mostly waiting on the target's timers
  } else {
    if (!f.settings.reference_faults.empty() && f.settings.target) {
      std::fprintf(stderr, "tftpspec run: --reference-fault applies to the embedded server only\n");
      return kExitUsage;
    }
    if (f.settings.root || f.settings.upload_fixtures) {
      std::fprintf(stderr, "tftpspec run: --root and --upload-fixtures need --target (the embedded server has its fixtures)\n");
      return kExitUsage;
    }
    auto config = scenario::EmbeddedTarget::default_config();
    for (const auto& name : f.settings.reference_faults) {
      const auto* fault = scenario::find_reference_fault(name);
      if (fault == nullptr) {
        std::fprintf(stderr, "tftpspec run: unknown --reference-fault %s; known:\n", name.c_str());
        for (const auto& k : scenario::reference_faults()) std::fprintf(stderr, "  %-26s %s\n", k.name.c_str(), k.breaks.c_str());
        return kExitUsage;
      }
      fault->apply(config);
    }
    target = std::make_unique<scenario::EmbeddedTarget>(config);
    options.jobs = f.settings.jobs > 0 ? f.settings.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  // The capture is opened (and its path checked) before the run: a run is not wasted on a
  // capture it cannot write.
  std::unique_ptr<scenario::WireCapture> capture;
  if (f.pcap) {
    const bool ng = f.pcap->size() >= 7 && f.pcap->compare(f.pcap->size() - 7, 7, ".pcapng") == 0;
    auto opened = scenario::WireCapture::open(
        *f.pcap, {.format = ng ? pcap::CaptureFormat::kPcapng : pcap::CaptureFormat::kPcap, .linktype = pcap::kLinkRaw},
        f.settings.target ? scenario::WireCapture::Timeline::kReal : scenario::WireCapture::Timeline::kVirtual);
    if (!opened) {
      std::fprintf(stderr, "tftpspec run: --pcap %s: %s; nothing was run\n", f.pcap->c_str(), opened.error().message.c_str());
      return kExitUsage;
    }
    capture = std::move(*opened);
    options.capture = capture.get();
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
  report.tool_version = TFTPSPEC_VERSION;
  report.command = command;
  report.catalogue_version = digest;
  report.run = f.settings;
  report.selection = f.settings.include;
  for (const auto& e : f.settings.exclude) report.selection.push_back("!" + e);
  if (f.settings.slow) report.selection.push_back("group:slow");

  print_run_summary(human, report);
  if (baseline && report.interrupted) {
    std::fprintf(human, "interrupted: not compared with the baseline %s\n", f.baseline->c_str());
  } else if (baseline) {
    std::set<std::string> ids;
    for (const auto& s : *catalogue) ids.insert(s.id);
    report.baseline = std::visit([&](const auto& b) { return report::compare(b, report, ids); }, *baseline);
    report.baseline->file = *f.baseline;
    print_comparison(human, *report.baseline, colour_wanted(human));
  }
  int code = kExitOk;
  const auto& s = report.summary;
  if (report.interrupted) {
    code = interrupted_exit_code();
  } else if (report.baseline) {
    // Against a baseline only a regression fails the run (report/baseline.h): the verdicts
    // the baseline already had, fails and errors too, are accepted. A target that never
    // answered is still a harness error: nothing was judged.
    if (!report.target.alive && !report.target_died_after) {
      code = kExitUsage;
    } else {
      code = report.baseline->regression() ? kExitFailure : kExitOk;
    }
  } else if (s.fail > 0 || s.findings_fail > 0) {
    code = kExitFailure;
  } else if (s.error > 0 || !report.target.alive) {
    code = kExitUsage;
  }
  for (const auto& [flag, path] : outputs) {
    const std::string text = render_report(flag, report);
    if (path == "-") {
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else if (auto written = write_file_atomic(path, text); !written) {
      std::fprintf(stderr, "tftpspec run: %s\n", written.error().message.c_str());
      code = kExitUsage;
    } else {
      std::fprintf(human, "%sreport: %s\n", flag == "--json" ? "" : flag.substr(2).append(" ").c_str(), path.c_str());
    }
  }
  if (capture) {
    if (auto closed = capture->close(); !closed) {
      std::fprintf(stderr, "tftpspec run: --pcap: %s\n", closed.error().message.c_str());
      code = kExitUsage;
    } else {
      std::fprintf(human, "capture: %s (%llu frames; the evidence cites them as frame #N)\n", capture->path().c_str(),
                   static_cast<unsigned long long>(capture->frames()));
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

// The flags of `run`, registered on `run` and on `rerun` (where they override what the
// report stored).
void add_run_flags(CLI::App* cmd, RunFlags& flags) {
  cmd->add_option("--target", flags.settings.target, "HOST[:PORT] of the server under test (port 69 by default)");
  cmd->add_option("--root", flags.settings.root,
                  "Write the fixtures into the target's root DIR first, and plant a canary beside it "
                  "(DIR/../tftpspec-canary.bin, removed after the run) that the traversal scenarios must never get back");
  cmd->add_flag("--upload-fixtures", flags.settings.upload_fixtures,
                "Upload the fixtures by WRQ first (the target must allow it). Files already there are kept and "
                "checked like any others. TFTP cannot delete: the uploaded files stay on the target");
  cmd->add_option("--scenario", flags.settings.include,
                  "Run only scenarios whose id matches GLOB (repeatable); a selection matching nothing exits 2");
  cmd->add_option("--exclude", flags.settings.exclude, "Skip scenarios whose id matches GLOB (repeatable)");
  cmd->add_option("--jobs,-j", flags.settings.jobs, "Scenarios run at once (default: 16 for a real target, the core count embedded)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--json", flags.json,
                  "Write the JSON report to FILE, '-' for stdout (then the progress goes to stderr); the "
                  "directory is checked before the run (schema: reports/tftpspec-report.schema.json). "
                  "With --list, print the selection as JSON (no FILE needed)")
      ->expected(0, 1);
  cmd->add_option("--junit", flags.junit,
                  "Write a JUnit XML report to FILE ('-' for stdout) for CI dashboards: a suite per group (rfc1350, ..., "
                  "security, sanity), a testcase per scenario; fail is a failure, error an error, skip skipped; warn and "
                  "note pass with 'WARN:'/'NOTE:' in system-out; run-wide findings are a last suite where a MUST is a "
                  "failure (schema: reports/tftpspec-junit.xsd). Checked before the run like --json");
  cmd->add_option("--html", flags.html,
                  "Write the report as one self-contained HTML page to FILE ('-' for stdout): summary by RFC and "
                  "level, findings, each non-pass's datagrams as a ladder, verdict filters, no JavaScript needed; "
                  "checked before the run and written, partial, on an interrupt like --json");
  cmd->add_option("--pcap", flags.pcap,
                  "Write every datagram of the run to the capture FILE (pcapng if it ends in .pcapng, else pcap; raw "
                  "IP frames); the report's evidence names each datagram's frame number. Against the embedded server "
                  "each scenario's datagrams form one block in virtual time, its harness host written as 127.X.Y.2 "
                  "(see the README)")
      ->type_name("FILE");
  cmd->add_option("--seed", flags.seed, "Seed for unique names and the virtual network (default: from the clock; in the report)");
  cmd->add_flag("--list", flags.list, "List the selected scenarios and exit");
  cmd->add_flag("--slow", flags.settings.slow, "Include the slow group (scenarios that wait for the target to give up)");
  cmd->add_flag("-v,--verbose", flags.verbose, "Print the datagram evidence of every non-pass");
  cmd->add_option("--reference-fault", flags.settings.reference_faults,
                  "Make the embedded reference server break one rule on purpose (repeatable; 'list' lists them) "
                  "to see which scenarios catch it");
  cmd->add_option("--scenarios", flags.settings.scenarios,
                  "Scenario directory, or one scenario file such as pcap2scenario writes (default: $TFTPSPEC_SCENARIOS, else share/tftpspec/scenarios beside the installed "
                  "binary, else the source tree's for a binary in its build tree)");
  cmd->add_option("--baseline", flags.baseline,
                  "Compare with FILE, an earlier JSON report or an expectations file (scenarios/README.md): print "
                  "what changed and exit 1 only on a regression (a new fail, warn or error, a new MUST finding); a "
                  "bad FILE exits 2 before the run");
}

struct RerunFlags {
  std::string report;
  bool failed = false;
};

void add_rerun_flags(CLI::App* cmd, RerunFlags& flags) {
  cmd->add_option("report", flags.report, "The JSON report of the run to repeat")->required();
  cmd->add_flag("--failed", flags.failed, "Repeat only the scenarios that were fail, warn or error (an interrupted "
                                          "run's unfinished ones too)")
      ->excludes(cmd->get_option("--scenario"))
      ->excludes(cmd->get_option("--exclude"));
}

// `rerun REPORT`: the run the report stores (target, selection, seed, catalogue directory),
// with the flags given on the rerun's command line over it. Those are parsed a second time
// into the stored settings: CLI11 assigns only the options that are given.
int rerun(const RerunFlags& r, const std::vector<std::string>& args, const std::string& command) {
  auto read = report::read_report_file(r.report);
  if (!read) {
    std::fprintf(stderr, "tftpspec rerun: %s: %s\n", r.report.c_str(), read.error().to_string().c_str());
    return kExitUsage;
  }
  if (!read->run) {
    std::fprintf(stderr, "tftpspec rerun: %s holds no run settings (written by a tftpspec before rerun); its command was: %s\n",
                 r.report.c_str(), read->command.c_str());
    return kExitUsage;
  }
  RunFlags flags;
  flags.settings = *read->run;
  flags.seed = read->seed;
  flags.rerun_of_catalogue = read->catalogue_version;
  if (r.failed) {
    std::set<std::string> ids;
    for (const auto& s : read->results) {
      // The sanity scenario ("<id>#first", "#last") runs in every run anyway.
      if (s.id.find('#') != std::string::npos) continue;
      if (s.verdict == report::Verdict::kFail || s.verdict == report::Verdict::kWarn || s.verdict == report::Verdict::kError) {
        ids.insert(s.id);
      }
    }
    if (ids.empty()) {
      std::printf("tftpspec rerun: %s has no fail, warn or error: nothing to run again\n", r.report.c_str());
      return kExitOk;
    }
    flags.settings.include.assign(ids.begin(), ids.end());  // exact ids: no glob character appears in one
    flags.settings.exclude.clear();
  }
  CLI::App again;
  RerunFlags ignored;
  add_run_flags(&again, flags);
  add_rerun_flags(&again, ignored);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes a vector last argument first
  again.parse(reversed);
  // stderr: with --json - stdout carries the report alone.
  std::fprintf(stderr, "tftpspec rerun: %s (%s)\n", r.report.c_str(), read->command.c_str());
  return run(flags, command);
}

}  // namespace

std::string render_report(const std::string& flag, const report::RunReport& report) {
  if (flag == "--junit") return report::render_junit(report);
  if (flag == "--html") return report::render_html(report);
  return report::to_json(report).dump(2) + "\n";
}

// The directory exists and we may create a file in it (tried, then removed).
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

int run_scenario_file(const ScenarioFileRun& r, const std::string& command) {
  RunFlags f;
  f.settings.scenarios = r.scenarios;
  f.settings.target = r.target;
  f.settings.jobs = r.jobs;
  f.json = r.json;
  f.junit = r.junit;
  f.html = r.html;
  f.pcap = r.pcap;
  f.seed = r.seed;
  f.verbose = r.verbose;
  return run(f, command);
}

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
      "With --baseline the verdicts the baseline already had are accepted: exit 1 only on a regression (a scenario\n"
      "newly fail, warn or error; a new run-wide MUST finding, or one that was a warn), else 0; 2 as above.\n"
      "Examples:\n"
      "  tftpspec run                                        the embedded reference server, virtual time\n"
      "  tftpspec run --target 127.0.0.1:6969 --root /srv/tftp --json report.json --html report.html --junit junit.xml\n"
      "  tftpspec run --target [::1]:69 --scenario 'rfc2348.*' --jobs 4\n"
      "  tftpspec run --target 127.0.0.1:69 --baseline yesterday.json          fail only if something got worse\n"
      "  tftpspec run --target 127.0.0.1:69 --baseline scenarios/expectations/tftpd-hpa.json\n");
  add_run_flags(cmd, *flags);
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + shell_quote(argv[i]);
  cmd->callback([flags, &action, command] { action = [flags, command] { return run(*flags, command); }; });

  auto rerun_flags = std::make_shared<RerunFlags>();
  auto* re = app.add_subcommand("rerun", "Repeat the run a JSON report records (same target, selection, seed and "
                                         "flags), or only its failures");
  re->footer(
      "\nThe report stores the flags that chose the target, the scenarios and the catalogue (its 'run' object) and the\n"
      "seed. Run flags given here replace the stored ones (--json, -v, --baseline are never stored: give them again).\n"
      "A catalogue that changed since the report (another digest) is warned about, not refused. Exit status as `run`.\n"
      "Examples:\n"
      "  tftpspec rerun report.json                         the same run again\n"
      "  tftpspec rerun report.json --failed -v             only what was fail, warn or error, with the evidence\n"
      "  tftpspec rerun report.json --baseline report.json  the same run, failing only on a regression\n");
  auto run_flags = std::make_shared<RunFlags>();  // checked here, applied over the report's in rerun()
  add_run_flags(re, *run_flags);
  add_rerun_flags(re, *rerun_flags);
  // The words after "rerun", parsed again over the stored settings.
  std::vector<std::string> rerun_args;
  for (int i = 2; i < argc; ++i) rerun_args.push_back(argv[i]);
  re->callback([rerun_flags, rerun_args, &action, command] {
    action = [rerun_flags, rerun_args, command] { return rerun(*rerun_flags, rerun_args, command); };
  });

  auto dir = std::make_shared<std::string>();
  auto* fx = app.add_subcommand("fixtures", "Write the files a target must serve for the catalogue into DIR");
  fx->add_option("dir", *dir, "Directory (created if missing)")->required();
  fx->callback([dir, &action] { action = [dir] { return fixtures_command(*dir); }; });
}

}  // namespace tftp::cli
