#include "report/load_report.h"

#include <cinttypes>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace tftp::report {

namespace {

using nlohmann::json;

json optional_number(const auto& value) { return value ? json(*value) : json(nullptr); }

double ms(Duration d) { return to_ms(d); }

json step_json(const LoadStep& step) {
  const client::LoadTally& t = step.run.tally;
  const client::LatencySummary latency = client::summarize(t.latencies);
  json failures = json::array();
  for (const auto& [cause, count] : t.failures) failures.push_back({{"cause", cause}, {"transfers", count}});
  json digest = nullptr;
  if (step.run.reference_digest) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016" PRIx64, *step.run.reference_digest);
    digest = hex;
  }
  return {
      {"clients", step.clients},
      {"elapsed_s", to_seconds(step.run.elapsed)},
      {"transfers",
       {{"started", t.started}, {"succeeded", t.succeeded}, {"failed", t.failed}, {"verified", t.verified}}},
      {"bytes", t.bytes},
      {"throughput_mib_s", throughput_mib_s(t.bytes, step.run.elapsed)},
      {"latency_ms",
       {{"count", latency.count},
        {"p50", ms(latency.p50)},
        {"p95", ms(latency.p95)},
        {"p99", ms(latency.p99)},
        {"max", ms(latency.max)},
        {"mean", ms(latency.mean)}}},
      {"retransmissions",
       {{"requests", t.request_retransmissions},
        {"by_clients", t.retransmissions},
        {"duplicates_received", t.duplicates_received},
        {"timeouts", t.timeouts}}},
      {"injected", {{"losses", t.injected_losses}, {"duplicates", t.injected_duplicates}}},
      {"failures", failures},
      {"reference_digest", digest},
      {"interrupted", step.run.interrupted},
  };
}

}  // namespace

double throughput_mib_s(uint64_t bytes, Duration elapsed) {
  const double seconds = to_seconds(elapsed);
  return seconds > 0 ? static_cast<double>(bytes) / (1024.0 * 1024.0) / seconds : 0.0;
}

std::string load_report_json(const LoadReport& r) {
  json steps = json::array();
  for (const auto& s : r.steps) steps.push_back(step_json(s));
  json doc = {
      {"$schema", kLoadSchemaId},
      {"tool", {{"name", "tftpspec"}, {"version", r.version}}},
      {"target", r.target},
      {"file", r.file},
      {"direction", r.upload ? "upload" : "download"},
      {"started", r.started},
      {"settings",
       {{"clients", r.clients},
        {"rounds", optional_number(r.rounds)},
        {"duration_s", optional_number(r.duration_seconds)},
        {"loss", r.loss},
        {"duplicate", r.duplicate},
        {"blksize", optional_number(r.blksize)},
        {"windowsize", optional_number(r.windowsize)},
        {"seed", r.seed},
        {"ramp", r.ramp}}},
      {"steps", steps},
      {"first_failure_clients", optional_number(r.first_failure_clients)},
      {"last_good_clients", optional_number(r.last_good_clients)},
      {"interrupted", r.interrupted},
      {"peak_rss_kib", r.peak_rss_kib},
  };
  return doc.dump(2) + "\n";
}

}  // namespace tftp::report
