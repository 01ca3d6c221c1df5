#include "scenario/catalogue_path.h"

#include <cstdlib>
#include <fstream>

#ifndef TFTPSPEC_INSTALLED_SCENARIOS
#error "CMake defines TFTPSPEC_INSTALLED_SCENARIOS from GNUInstallDirs"
#endif

namespace tftp::scenario {

const char* const kInstalledCatalogue = TFTPSPEC_INSTALLED_SCENARIOS;

Result<std::filesystem::path> find_catalogue(const std::filesystem::path& executable, const std::optional<std::string>& env) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // An explicit setting is used even if wrong: the loader's error then names it, rather
  // than a silent fall back to another catalogue.
  if (env && !env->empty()) return fs::path(*env);
  const fs::path dir = executable.parent_path();
  const fs::path installed = (dir / kInstalledCatalogue).lexically_normal();
  if (fs::is_directory(installed, ec)) return installed;
  const fs::path marker = dir / kBuildTreeMarker;
  std::string named;
  if (std::ifstream in(marker); in && std::getline(in, named) && !named.empty()) {
    const fs::path built = fs::path(named).is_absolute() ? fs::path(named) : (dir / named).lexically_normal();
    if (fs::is_directory(built, ec)) return built;
    return make_error("tftp.catalogue.not_found", marker.string() + " names " + built.string() +
                                                      ", which is not a directory; give --scenarios DIR or set TFTPSPEC_SCENARIOS");
  }
  return make_error("tftp.catalogue.not_found",
                    "no scenario catalogue: TFTPSPEC_SCENARIOS is not set, " + installed.string() + " does not exist (installed layout), and " +
                        marker.string() + " does not exist (build tree); give --scenarios DIR or set TFTPSPEC_SCENARIOS");
}

Result<std::filesystem::path> find_own_catalogue() {
  std::error_code ec;
  const auto executable = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return make_error("tftp.catalogue.not_found", "cannot read /proc/self/exe: " + ec.message() + "; give --scenarios DIR");
  const char* env = std::getenv("TFTPSPEC_SCENARIOS");
  return find_catalogue(executable, env ? std::optional<std::string>(env) : std::nullopt);
}

}  // namespace tftp::scenario
