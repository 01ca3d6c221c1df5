// Where the scenario catalogue is when `--scenarios DIR` does not say. The binary carries
// no absolute path of the tree it was built in, so that it can be installed and moved:
// 1. $TFTPSPEC_SCENARIOS, when set;
// 2. the installed layout, relative to the executable: <prefix>/bin/tftpspec finds
//    <prefix>/share/tftpspec/scenarios (kInstalledCatalogue, from CMake's GNUInstallDirs);
// 3. the build tree: CMake writes a marker file beside the built binary (kBuildTreeMarker)
//    naming the source tree's catalogue; it is never installed.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/result.h"

namespace tftp::scenario {

// The catalogue's place relative to the executable's directory, "../share/tftpspec/scenarios"
// in the default layout.
extern const char* const kInstalledCatalogue;
// The marker's file name beside the executable; it holds one line, the catalogue directory
// (absolute, or relative to the marker's directory).
inline constexpr const char* kBuildTreeMarker = "tftpspec.scenarios";

// `executable` is the binary's own path (/proc/self/exe); `env` is $TFTPSPEC_SCENARIOS.
// The error names every place looked at, and how to say where the catalogue is.
Result<std::filesystem::path> find_catalogue(const std::filesystem::path& executable, const std::optional<std::string>& env);

// find_catalogue for this process.
Result<std::filesystem::path> find_own_catalogue();

}  // namespace tftp::scenario
