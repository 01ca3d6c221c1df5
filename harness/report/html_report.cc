#include "report/html_report.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "common/text.h"

namespace tftp::report {

namespace {

// A ladder shows the first kLadderHead and last kLadderTail datagrams of a scenario's
// evidence, plus every withheld or cited one: the JSON report has the rest, and the page
// stays a few hundred KiB for the whole catalogue.
constexpr size_t kLadderHead = 30;
constexpr size_t kLadderTail = 20;

// Verdict colours follow the terminal's (run_command.cc), on a light background.
constexpr std::string_view kStyle = R"css(
:root{--pass:#1a7f37;--note:#0a7ea4;--warn:#b25e00;--fail:#cf222e;--skip:#6e7781;--error:#8250df;--line:#57606a}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 48px;color:#1f2328}
h1{font-size:1.5em;margin:16px 0 4px}h2{font-size:1.2em;margin:24px 0 8px;border-bottom:1px solid #d0d7de}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12.5px}
pre{white-space:pre-wrap;word-break:break-all;margin:4px 0}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right}td.z{color:#c0c4c8}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}dl.meta dt{color:#57606a}dl.meta dd{margin:0}
.banner{padding:8px 12px;border-radius:6px;margin:8px 0;font-weight:600;background:#ffebe9;border:1px solid var(--fail)}
.badge{display:inline-block;min-width:3.2em;text-align:center;border-radius:4px;padding:0 6px;color:#fff;font-weight:600;font-size:12px}
.b-pass{background:var(--pass)}.b-note{background:var(--note)}.b-warn{background:var(--warn)}.b-fail{background:var(--fail)}.b-skip{background:var(--skip)}.b-error{background:var(--error)}
td.c-pass{color:var(--pass);font-weight:600}td.c-note{color:var(--note);font-weight:600}td.c-warn{color:var(--warn);font-weight:600}
td.c-fail{color:var(--fail);font-weight:600}td.c-skip{color:var(--skip);font-weight:600}td.c-error{color:var(--error);font-weight:600}
.filters{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #d0d7de;z-index:1}
input.flt{position:absolute;opacity:0;pointer-events:none}.filters label{cursor:pointer;margin-left:8px}
.scenario{border:1px solid #d0d7de;border-radius:6px;margin:6px 0;padding:4px 10px}
.scenario>summary{cursor:pointer}.scenario:target,.finding:target{outline:3px solid #0969da}
.sid{font-family:ui-monospace,monospace;font-weight:600}
.ev{display:grid;grid-template-columns:1fr 1fr;gap:8px}.ev>div{background:#f6f8fa;padding:4px 8px;border-radius:4px}
.lad{display:grid;grid-template-columns:6.5em minmax(9em,max-content) minmax(18em,1fr) minmax(9em,max-content);margin:8px 0;font-family:ui-monospace,monospace;font-size:12px}
.lad>div{padding:1px 6px}.lad .h{font-weight:600;border-bottom:1px solid #d0d7de}.lad .t{text-align:right;color:#57606a}
.lad .a{border-left:2px solid #8c959f;border-right:2px solid #8c959f;padding:2px 14px}
.arrow{position:relative;border-bottom:2px solid var(--line);text-align:center;min-height:1.2em;word-break:break-all}
.arrow::after{content:"";position:absolute;bottom:-7px;border:6px solid transparent}
.sent .arrow::after{right:-12px;border-left:10px solid var(--line)}.recv .arrow::after{left:-12px;border-right:10px solid var(--line)}
.withheld .arrow{border-bottom-style:dashed;color:#8c959f;margin-right:40%}.withheld .arrow::after{content:"\2715";border:0;right:-14px;bottom:-9px;color:var(--fail);font-weight:700}
.mark{font-size:11px;font-weight:700;text-transform:uppercase;border-radius:3px;padding:0 4px;margin-right:4px}
.m-withheld{background:#eaeef2;color:#57606a}.m-duplicate{background:#fff8c5;color:#7d4e00}.m-cited{background:#ffebe9;color:var(--fail)}
.offending{background:#fff5f5}.offending .arrow{border-bottom-color:var(--fail);font-weight:700}
.hex{display:block;font-weight:400;color:#1f2328;background:#fff;border:1px solid #ffcecb;padding:1px 4px;margin-top:2px;text-align:left}
.withheld .hex{border-color:#d0d7de}
.elided{grid-column:1/-1;text-align:center;color:#57606a;font-style:italic}
.matrix td a{color:inherit}.matrix td.id{font-family:ui-monospace,monospace}
)css";

// With JS on: `#only=fail,warn` in the URL checks those filters only (a link to the failures).
// Without JS the checkboxes alone work (CSS :checked).
constexpr std::string_view kScript = R"js(
function applyHash(){var m=/only=([a-z,]+)/.exec(location.hash);if(!m)return;var want=m[1].split(',');
document.querySelectorAll('input.flt').forEach(function(b){b.checked=want.indexOf(b.dataset.v)>=0;});}
window.addEventListener('hashchange',applyHash);applyHash();
)js";

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string name_of(Verdict v) { return std::string(verdict_name(v)); }

std::string badge(Verdict v) { return "<span class=\"badge b-" + name_of(v) + "\">" + name_of(v) + "</span>"; }

// The group a scenario belongs to in the summary: its id up to the first '.' (rfc1350, sanity).
std::string group_of(const std::string& id) { return id.substr(0, id.find_first_of(".#")); }

// A nonce for the one inline script: the page's Content-Security-Policy runs no other script,
// so markup that escaped escaping still could not run any.
std::string script_nonce() {
  std::random_device rd;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

// The checkboxes (see filters()) are <main>'s siblings, before it, so
// `#show-fail:not(:checked)~main .v-fail` hides without JS; their labels, in the bar,
// toggle them and show their state (a crossed-out verdict is hidden).
std::string filter_css() {
  std::string css;
  for (Verdict v : kAllVerdicts) {
    const std::string n = name_of(v);
    css += "#show-" + n + ":not(:checked)~main .v-" + n + "{display:none}\n";
    css += "#show-" + n + ":not(:checked)~.filters label[for=show-" + n + "]{opacity:.4;text-decoration:line-through}\n";
    css += "#show-" + n + ":focus-visible~.filters label[for=show-" + n + "]{outline:2px solid #0969da}\n";
  }
  return css;
}

void page_start(std::string& out, const std::string& title, const std::string& nonce) {
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-" +
         nonce + "'\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" + html_escape(title) + "</title>\n";
  out += "<style>";
  out += kStyle;
  out += filter_css();
  out += "</style></head>\n<body>\n";
}

void page_end(std::string& out, const std::string& nonce) {
  out += "<script nonce=\"" + nonce + "\">";
  out += kScript;
  out += "</script>\n</body></html>\n";
}

// The verdict checkboxes (visually hidden; styled by filter_css()) and the bar of their labels.
void filters(std::string& out, const std::string& what) {
  std::string labels;
  for (Verdict v : kAllVerdicts) {
    const std::string n = name_of(v);
    out += "<input type=\"checkbox\" class=\"flt\" id=\"show-" + n + "\" data-v=\"" + n + "\" checked>\n";
    labels += "<label for=\"show-" + n + "\">" + badge(v) + "</label>";
  }
  out += "<div class=\"filters\">Show " + what + " (click to hide or show): " + labels;
  out += " &nbsp; with JavaScript: <a href=\"#only=fail,error,warn\">only fail, error, warn</a>"
         " <a href=\"#only=pass,note,warn,fail,skip,error\">all</a></div>\n";
}

void meta_row(std::string& out, std::string_view name, const std::string& value_html) {
  out += "<dt>";
  out += name;
  out += "</dt><dd>" + value_html + "</dd>";
}

void run_header(std::string& out, const RunReport& r) {
  const auto& t = r.target;
  out += "<dl class=\"meta\">";
  meta_row(out, "tool", html_escape(r.tool_name + " " + r.tool_version));
  meta_row(out, "target", "<b>" + html_escape(t.address) + "</b> " + html_escape(t.description) +
                              (t.alive ? "" : " <b>(not answering)</b>"));
  meta_row(out, "started", html_escape(r.started) + (r.finished.empty() ? "" : " &ndash; " + html_escape(r.finished)));
  meta_row(out, "duration", fixed(r.duration_ms / 1000, 2) + " s");
  meta_row(out, "seed", std::to_string(r.seed));
  meta_row(out, "command", "<code>" + html_escape(r.command) + "</code>");
  meta_row(out, "catalogue", "<code>" + html_escape(r.catalogue_version) + "</code>");
  if (!r.selection.empty()) {
    std::string sel;
    for (const auto& s : r.selection) sel += (sel.empty() ? "" : " ") + html_escape(s);
    meta_row(out, "selection", "<code>" + sel + "</code>");
  }
  std::string caps;
  for (const auto& c : t.capabilities) caps += (caps.empty() ? "" : ", ") + html_escape(c);
  meta_row(out, "capabilities", caps.empty() ? "none found" : caps);
  meta_row(out, "path", "round trip " + fixed(t.path.rtt_ms, 2) + " ms (jitter " + fixed(t.path.jitter_ms, 2) + " ms, " +
                            std::to_string(t.path.samples) + " samples); retransmission timeout " + fixed(t.rto_ms, 0) +
                            " ms (mid-transfer " + fixed(t.srto_ms, 0) + " ms)");
  for (const auto& f : t.fixtures) {
    if (f.status != "ok") meta_row(out, "fixture", html_escape(f.name + " is " + f.status + ": " + f.detail));
  }
  for (const auto& n : t.notes) meta_row(out, "note", html_escape(n));
  out += "</dl>\n";
  if (r.target_died_after) {
    out += "<p class=\"banner\">The target stopped answering after " + html_escape(*r.target_died_after) +
           ": the scenarios after it are errors, not verdicts.</p>\n";
  }
  if (r.interrupted) out += "<p class=\"banner\">Interrupted: the report holds what finished.</p>\n";
}

using Counts = std::map<Verdict, int>;

void count_row(std::string& out, const std::string& label_html, const Counts& c) {
  int total = 0;
  out += "<tr><th>" + label_html + "</th>";
  for (Verdict v : kAllVerdicts) {
    const auto it = c.find(v);
    const int n = it == c.end() ? 0 : it->second;
    total += n;
    out += n == 0 ? "<td class=\"n z\">0</td>" : "<td class=\"n c-" + name_of(v) + "\">" + std::to_string(n) + "</td>";
  }
  out += "<td class=\"n\">" + std::to_string(total) + "</td></tr>\n";
}

void count_table(std::string& out, const std::string& first_column, const std::vector<std::pair<std::string, Counts>>& rows) {
  out += "<table class=\"counts\"><tr><th>" + first_column + "</th>";
  for (Verdict v : kAllVerdicts) out += "<th>" + name_of(v) + "</th>";
  out += "<th>total</th></tr>\n";
  for (const auto& [label, counts] : rows) count_row(out, html_escape(label), counts);
  out += "</table>\n";
}

// RFC 2119 levels first in their order of weight, then any other in alphabetical order.
int level_rank(const std::string& level) {
  static const std::vector<std::string> kOrder = {"MUST", "SHOULD", "MAY"};
  const auto it = std::find(kOrder.begin(), kOrder.end(), level);
  return static_cast<int>(it - kOrder.begin());
}

void summary(std::string& out, const RunReport& r) {
  std::map<std::string, Counts> by_group;
  std::map<std::string, Counts> by_level;
  Counts all;
  for (const auto& s : r.results) {
    ++by_group[group_of(s.id)][s.verdict];
    ++by_level[s.level.empty() ? "-" : s.level][s.verdict];
    ++all[s.verdict];
  }
  std::vector<std::pair<std::string, Counts>> groups(by_group.begin(), by_group.end());
  groups.emplace_back("all", all);
  std::vector<std::pair<std::string, Counts>> levels(by_level.begin(), by_level.end());
  std::stable_sort(levels.begin(), levels.end(),
                   [](const auto& a, const auto& b) { return level_rank(a.first) < level_rank(b.first); });
  out += "<h2 id=\"summary\">Summary</h2>\n<div class=\"ev\"><div>By RFC\n";
  count_table(out, "group", groups);
  out += "</div><div>By level\n";
  count_table(out, "level", levels);
  const auto& s = r.summary;
  out += "<p>Run-wide findings: " + std::to_string(s.findings_fail) + " fail, " + std::to_string(s.findings_warn) +
         " warn, " + std::to_string(s.findings_note) + " note.</p></div></div>\n";
}

// One datagram of a ladder: time, the harness's port, the arrow (pointing the way it went,
// labelled with the packet), the target's port.
void ladder_row(std::string& out, const EvidenceLine& e, bool cited) {
  const bool sent = e.direction == "sent";
  std::string cls = sent ? "sent" : "recv";
  if (!e.mark.empty()) cls += " " + html_escape(e.mark);
  if (cited) cls += " offending";
  const std::string& ours = sent ? e.from : e.to;
  const std::string& theirs = sent ? e.to : e.from;
  // The grid needs the four cells as its children: each carries the row's classes.
  out += "<div class=\"t " + cls + "\">" + fixed(e.t_ms, 3);
  // The frame in the run's capture (run --pcap), for Wireshark's "Go to packet".
  if (e.frame != 0) out += "<br><span class=\"sz\" title=\"frame in the capture\">#" + std::to_string(e.frame) + "</span>";
  out += "</div>";
  out += "<div class=\"" + cls + "\">" + html_escape(ours) + "</div>";
  out += "<div class=\"a " + cls + "\"><div class=\"arrow\">";
  if (!e.mark.empty()) out += "<span class=\"mark m-" + html_escape(e.mark) + "\">" + html_escape(e.mark) + "</span>";
  if (cited) out += "<span class=\"mark m-cited\">cited</span>";
  out += html_escape(e.packet) + " <span class=\"sz\">(" + std::to_string(e.size) + " B)</span>";
  if (!e.hex.empty()) out += "<code class=\"hex\">" + html_escape(e.hex) + "</code>";
  out += "</div></div><div class=\"" + cls + "\">" + html_escape(theirs) + "</div>\n";
}

void elided_row(std::string& out, const std::string& text) { out += "<div class=\"elided\">&hellip; " + text + " &hellip;</div>\n"; }

void ladder(std::string& out, const std::vector<EvidenceLine>& lines, size_t model_elided, const std::set<size_t>& cited) {
  if (lines.empty()) {
    out += "<p><i>No datagram was exchanged.</i></p>\n";
    return;
  }
  out += "<div class=\"lad\" role=\"table\" aria-label=\"datagrams exchanged\"><div class=\"h t\">t (ms)</div>"
         "<div class=\"h\">harness</div><div class=\"h\" style=\"text-align:center\">datagram</div><div class=\"h\">target</div>\n";
  const auto shown = [&](size_t i) {
    const auto& e = lines[i];
    return lines.size() <= kLadderHead + kLadderTail || i < kLadderHead || i >= lines.size() - kLadderTail ||
           !e.mark.empty() || cited.count(e.index);
  };
  bool model_elision_shown = false;
  size_t skipped = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!shown(i)) {
      ++skipped;
      continue;
    }
    if (skipped > 0) {
      elided_row(out, std::to_string(skipped) + " datagram" + (skipped == 1 ? "" : "s") + " more in the JSON report");
      skipped = 0;
    }
    const auto& e = lines[i];
    if (!model_elision_shown && model_elided > 0 && i > 0 && e.index > lines[i - 1].index + 1) {
      elided_row(out, std::to_string(model_elided) + " datagrams not kept");
      model_elision_shown = true;
    }
    ladder_row(out, e, e.mark != kMarkWithheld && cited.count(e.index) > 0);
  }
  out += "</div>\n";
}

// Where each run-wide finding is, by key, for a scenario's "also seen" links.
using FindingAnchors = std::map<std::string, std::string>;

std::string finding_anchor(const std::string& prefix, size_t i) { return prefix + "finding-" + std::to_string(i); }

void scenario_section(std::string& out, const ScenarioResult& s, const std::string& prefix, const FindingAnchors& anchors) {
  const std::string v = name_of(s.verdict);
  const bool pass = s.verdict == Verdict::kPass;
  out += "<details class=\"scenario v-" + v + "\" id=\"" + html_anchor(prefix, s.id) + "\"" + (pass ? "" : " open") + ">";
  out += "<summary>" + badge(s.verdict) + " <span class=\"sid\">" + html_escape(s.id) + "</span> &mdash; " +
         html_escape(s.title) + " <small>(" + html_escape(s.level) + ", " + html_escape(s.citation) + ", " +
         fixed(s.duration_ms, 1) + " ms)</small></summary>\n<dl class=\"meta\">";
  std::string reqs;
  for (const auto& q : s.requirements) reqs += (reqs.empty() ? "" : ", ") + html_escape(q);
  if (reqs.empty()) reqs = html_escape(s.requirement);
  meta_row(out, "requirement", "<code>" + reqs + "</code>" +
                                   (s.decided_by.empty() ? "" : " (decided by <code>" + html_escape(s.decided_by) + "</code>)"));
  meta_row(out, "citation", html_escape(s.citation) + " &mdash; " + html_escape(s.level));
  if (!s.summary.empty()) meta_row(out, "summary", html_escape(s.summary));
  if (!s.category.empty()) meta_row(out, "category", "<b>" + html_escape(s.category) + "</b>");
  if (!s.reason.empty()) meta_row(out, "reason", "<pre>" + html_escape(s.reason) + "</pre>");
  meta_row(out, "source", "<code>" + html_escape(s.file) + "</code>");
  out += "</dl>\n";
  if (!s.expected.empty() || !s.observed.empty()) {
    out += "<div class=\"ev\"><div><b>expected</b><pre>" + html_escape(s.expected) + "</pre></div><div><b>observed</b><pre>" +
           html_escape(s.observed) + "</pre></div></div>\n";
  }
  std::set<size_t> cited;
  for (const auto& f : s.findings) {
    cited.insert(f.evidence.begin(), f.evidence.end());
    out += "<p>" + badge(verdict_for_level(f.level)) + " <code>" + html_escape(f.id) + "</code> (" + html_escape(f.citation) +
           ", " + html_escape(f.level) + "): " + html_escape(f.message) + "</p>\n";
  }
  if (!s.see_also.empty()) {
    out += "<p>Also seen here (run-wide findings):";
    for (const auto& key : s.see_also) {
      const auto it = anchors.find(key);
      out += " " + (it == anchors.end() ? "<code>" + html_escape(key) + "</code>"
                                        : "<a href=\"#" + it->second + "\"><code>" + html_escape(key) + "</code></a>");
    }
    out += "</p>\n";
  }
  for (const auto& c : s.retransmissions) {
    std::string gaps;
    for (double g : c.gaps_ms) gaps += (gaps.empty() ? "" : " &rarr; ") + fixed(g / 1000.0, 2) + " s";
    out += "<p>Retransmissions of <code>" + html_escape(c.packet) + "</code>: " + (gaps.empty() ? "none" : gaps) + "; " +
           html_escape(c.end) + (c.judgement.empty() ? "" : "; " + html_escape(c.judgement)) + "</p>\n";
  }
  if (s.datagrams_dropped > 0) {
    out += "<p>" + std::to_string(s.datagrams_dropped) + " datagrams dropped unread (a flood); the rule engine saw all of them.</p>\n";
  }
  if (!pass) ladder(out, s.evidence, s.evidence_elided, cited);
  out += "</details>\n";
}

FindingAnchors finding_anchors(const RunReport& r, const std::string& prefix) {
  FindingAnchors anchors;
  for (size_t i = 0; i < r.findings.size(); ++i) anchors[r.findings[i].finding.key()] = finding_anchor(prefix, i);
  return anchors;
}

// With `non_pass_only` (the matrix embeds only non-passes) a pass is named, not linked, so
// every link lands.
void findings_section(std::string& out, const RunReport& r, const std::string& prefix, const std::string& heading,
                      bool non_pass_only) {
  out += "<h2 id=\"" + prefix + "findings\">" + heading + " (" + std::to_string(r.findings.size()) + ")</h2>\n";
  if (r.findings.empty()) {
    out += "<p>None: no rule other than the scenarios' own was broken.</p>\n";
    return;
  }
  out += "<p>Rules broken along the way, one entry per rule and cause, whatever the number of scenarios that saw it.</p>\n";
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const auto& rf = r.findings[i];
    const auto& f = rf.finding;
    out += "<details class=\"scenario finding v-" + name_of(rf.verdict) + "\" id=\"" + finding_anchor(prefix, i) + "\" open>";
    out += "<summary>" + badge(rf.verdict) + " <span class=\"sid\">" + html_escape(f.id) + "</span> &mdash; " +
           html_escape(f.cause) + "</summary>\n<dl class=\"meta\">";
    meta_row(out, "citation", html_escape(f.citation) + " &mdash; " + html_escape(f.level) + " (<code>" +
                                  html_escape(f.requirement) + "</code>)");
    if (!f.category.empty()) meta_row(out, "category", "<b>" + html_escape(f.category) + "</b>");
    meta_row(out, "message", "<pre>" + html_escape(f.message) + "</pre>");
    std::string seen;
    for (const auto& id : rf.scenarios) {
      const auto it = std::find_if(r.results.begin(), r.results.end(), [&](const ScenarioResult& s) { return s.id == id; });
      const bool linked = it != r.results.end() && !(non_pass_only && it->verdict == Verdict::kPass);
      seen += (seen.empty() ? "" : ", ") +
              (linked ? "<a href=\"#" + html_anchor(prefix, id) + "\">" + html_escape(id) + "</a>" : html_escape(id));
    }
    meta_row(out, "seen in", seen + " &mdash; " + std::to_string(rf.sightings) + " sighting" + (rf.sightings == 1 ? "" : "s") +
                                 ", first in " + html_escape(rf.first_seen_in));
    out += "</dl>\n";
    // A finding about timing (intervals, a silence) may cite no datagram: no empty ladder.
    const std::set<size_t> cited(f.evidence.begin(), f.evidence.end());
    if (!f.datagrams.empty()) ladder(out, f.datagrams, 0, cited);
    out += "</details>\n";
  }
}

// A section per scenario (with `non_pass_only`, per non-pass: the matrix links only those).
void scenarios_section(std::string& out, const RunReport& r, const std::string& prefix, bool non_pass_only) {
  const auto anchors = finding_anchors(r, prefix);
  for (const auto& s : r.results) {
    if (non_pass_only && s.verdict == Verdict::kPass) continue;
    scenario_section(out, s, prefix, anchors);
  }
}

std::string run_label(const RunReport& r) {
  if (r.target.description.empty()) return r.target.address;
  return r.target.description + " (" + r.target.address + ")";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_anchor(std::string_view run_prefix, std::string_view scenario_id) {
  std::string out = std::string(run_prefix) + "s-";
  for (unsigned char c : scenario_id) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-') {
      out += static_cast<char>(c);
    } else {
      out += '_';
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0xf];
    }
  }
  return out;
}

std::string render_html(const RunReport& run) {
  std::string out;
  out.reserve(64 * 1024);
  const std::string nonce = script_nonce();
  page_start(out, "tftpspec: " + run_label(run), nonce);
  out += "<header><h1>tftpspec report: " + html_escape(run_label(run)) + "</h1>\n";
  run_header(out, run);
  out += "</header>\n";
  filters(out, "verdicts");
  out += "<main>\n";
  summary(out, run);
  findings_section(out, run, "", "Run-wide findings", /*non_pass_only=*/false);
  out += "<h2 id=\"scenarios\">Scenarios (" + std::to_string(run.results.size()) + ")</h2>\n";
  scenarios_section(out, run, "", /*non_pass_only=*/false);
  out += "</main>\n";
  page_end(out, nonce);
  return out;
}

std::string render_matrix_html(const std::vector<RunReport>& runs, const std::vector<std::string>& names) {
  // Column labels: the given names, else the target's description and address; two runs
  // against the same target (before and after a fix) are told apart by their start time,
  // then by their position.
  std::vector<std::string> labels;
  for (size_t i = 0; i < runs.size(); ++i) labels.push_back(i < names.size() ? names[i] : run_label(runs[i]));
  const auto tell_apart = [&labels](const std::function<std::string(size_t, const std::string&)>& suffix) {
    std::map<std::string, int> uses;
    for (const auto& l : labels) ++uses[l];
    for (size_t i = 0; i < labels.size(); ++i) {
      if (uses[labels[i]] > 1) labels[i] += suffix(i, labels[i]);
    }
  };
  tell_apart([&runs](size_t i, const std::string&) { return runs[i].started.empty() ? "" : " " + runs[i].started; });
  std::map<std::string, int> seen;
  tell_apart([&seen](size_t, const std::string& l) { return " #" + std::to_string(++seen[l]); });
  std::set<std::string> ids;
  for (const auto& r : runs) {
    for (const auto& s : r.results) ids.insert(s.id);
  }
  const auto prefix = [](size_t i) { return "r" + std::to_string(i + 1) + "-"; };

  std::string out;
  out.reserve(128 * 1024);
  const std::string nonce = script_nonce();
  page_start(out, "tftpspec matrix: " + std::to_string(runs.size()) + " servers", nonce);
  out += "<header><h1>tftpspec matrix: " + std::to_string(runs.size()) + " servers by " + std::to_string(ids.size()) +
         " scenarios</h1>\n<table class=\"counts\"><tr><th>server</th>";
  for (Verdict v : kAllVerdicts) out += "<th>" + name_of(v) + "</th>";
  out += "<th>total</th><th>run-wide findings</th><th>started</th><th>catalogue</th></tr>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    Counts c;
    for (const auto& s : runs[i].results) ++c[s.verdict];
    std::string row;
    count_row(row, "<a href=\"#" + prefix(i) + "run\">" + html_escape(labels[i]) + "</a>", c);
    row.resize(row.size() - std::string("</tr>\n").size());
    out += row + "<td class=\"n\"><a href=\"#" + prefix(i) + "findings\">" + std::to_string(runs[i].findings.size()) +
           "</a></td><td>" + html_escape(runs[i].started) + "</td><td><code>" + html_escape(runs[i].catalogue_version) +
           "</code></td></tr>\n";
  }
  out += "</table></header>\n";
  filters(out, "cells");
  out += "<main>\n<h2 id=\"matrix\">Scenarios by server</h2>\n<table class=\"matrix\"><tr><th>scenario</th>";
  for (const auto& l : labels) out += "<th>" + html_escape(l) + "</th>";
  out += "</tr>\n";
  for (const auto& id : ids) {
    out += "<tr><td class=\"id\">" + html_escape(id) + "</td>";
    for (size_t i = 0; i < runs.size(); ++i) {
      const auto& results = runs[i].results;
      const auto it = std::find_if(results.begin(), results.end(), [&](const ScenarioResult& s) { return s.id == id; });
      if (it == results.end()) {
        out += "<td class=\"z\">&mdash;</td>";
        continue;
      }
      const std::string v = name_of(it->verdict);
      // Filters hide the word, not the cell: the table keeps its shape.
      out += "<td class=\"c-" + v + "\"><span class=\"v-" + v + "\">";
      out += it->verdict == Verdict::kPass ? v : "<a href=\"#" + html_anchor(prefix(i), id) + "\">" + v + "</a>";
      out += "</span></td>";
    }
    out += "</tr>\n";
  }
  out += "</table>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    out += "<h2 id=\"" + prefix(i) + "run\">" + html_escape(labels[i]) + "</h2>\n";
    run_header(out, runs[i]);
    findings_section(out, runs[i], prefix(i), "Run-wide findings of " + html_escape(labels[i]), /*non_pass_only=*/true);
    out += "<h2>Non-passes of " + html_escape(labels[i]) + "</h2>\n";
    scenarios_section(out, runs[i], prefix(i), /*non_pass_only=*/true);
  }
  out += "</main>\n";
  page_end(out, nonce);
  return out;
}

}  // namespace tftp::report
