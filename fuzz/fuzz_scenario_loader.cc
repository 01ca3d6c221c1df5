// Fuzz target for the scenario-file loader (harness/scenario/loader.h): any text either
// loads or is refused with an error naming the file and a line inside it (or 0, the file
// as a whole), never a crash, a hang or an exception escaping. The durations parser is
// fed the same text line by line.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "scenario/loader.h"

using namespace tftp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto loaded = scenario::load_text(text, "fuzz.yaml");
  if (loaded) {
    for (const auto& s : *loaded) FUZZ_CHECK(!s.id.empty());
  } else {
    const auto& e = loaded.error();
    FUZZ_CHECK(e.where.file == "fuzz.yaml" && !e.message.empty());
    const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
    FUZZ_CHECK(e.where.line >= 0 && e.where.line <= lines + 1);
  }
  if (size <= 64) {
    const auto w = scenario::parse_wait(text);
    FUZZ_CHECK(w || !w.error().empty());
  }
  return 0;
}
