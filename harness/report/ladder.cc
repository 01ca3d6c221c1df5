#include "report/ladder.h"

#include <cstdio>
#include <cstring>

namespace tftp::report {

namespace {
template <typename... Args>
void append(std::string& out, const char* format, Args... args) {
  char line[512];
  std::snprintf(line, sizeof line, format, args...);
  out += line;
}
}  // namespace

std::string render_ladder(const std::vector<EvidenceLine>& evidence, size_t elided, const std::string& indent) {
  constexpr size_t kWidth = 56;
  std::string out;
  // With a capture (run --pcap), each datagram's frame number, to find it in Wireshark.
  bool frames = false;
  for (const auto& e : evidence) frames = frames || e.frame != 0;
  append(out, "%s%9s  %s%-21s  %*s  %s\n", indent.c_str(), "t (ms)", frames ? " frame  " : "", "harness",
         static_cast<int>(kWidth), "", "target");
  bool elision_shown = false;
  for (size_t i = 0; i < evidence.size(); ++i) {
    const auto& e = evidence[i];
    if (!elision_shown && elided > 0 && i > 0 && e.index > evidence[i - 1].index + 1) {
      append(out, "%s%9s  ... %zu datagrams not kept ...\n", indent.c_str(), "", elided);
      elision_shown = true;
    }
    // The mark first, where a long description cannot cut it off.
    const std::string text = e.mark.empty() ? e.packet : "[" + e.mark + "] " + e.packet;
    std::string label = text;
    if (label.size() > kWidth - 8) {
      label.resize(kWidth - 11);
      label += "...";
    }
    const bool sent = e.direction == "sent";
    const size_t dashes = kWidth - label.size() - 4;
    // Built in place: g++ 12 at -O2 warns (a false -Warray-bounds, GCC PR 105651) on
    // chains of operator+ over these strings.
    std::string arrow;
    arrow.reserve(kWidth);
    if (sent) {
      arrow.append("-- ").append(label).append(" ").append(dashes, '-').append(">");
    } else {
      arrow.append("<").append(dashes, '-').append(" ").append(label).append(" --");
    }
    const std::string& ours = sent ? e.from : e.to;
    const std::string& theirs = sent ? e.to : e.from;
    // Built by concatenation: the addresses and the label are not bounded by the buffer above.
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "%9.3f  ", e.t_ms);
    if (frames) {
      const size_t used = std::strlen(prefix);
      if (e.frame != 0) std::snprintf(prefix + used, sizeof prefix - used, "#%-6llu ", static_cast<unsigned long long>(e.frame));
      else std::snprintf(prefix + used, sizeof prefix - used, "%-8s", "");
    }
    std::string pad = ours.size() < 21 ? std::string(21 - ours.size(), ' ') : "";
    out += indent + prefix + ours + pad + " |" + arrow + "| " + theirs + "\n";
  }
  return out;
}

}  // namespace tftp::report
