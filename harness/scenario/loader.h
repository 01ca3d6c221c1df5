// Reads scenario files (YAML, comments allowed). A broken file gets an error naming the
// file, the line and what is wrong; unknown keys are errors, so typos do not pass silently.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "scenario/model.h"

namespace tftp::scenario {

struct LoadError {
  SourceLocation where;
  std::string message;
  std::string to_string() const { return where.to_string() + ": " + message; }
};

// One file holds one scenario, or a list of them under `scenarios:`.
tl::expected<std::vector<Scenario>, LoadError> load_file(const std::filesystem::path& path);
tl::expected<std::vector<Scenario>, LoadError> load_text(const std::string& text, const std::string& name);
// Every *.yaml beneath `dir` (except expectations/), sorted by id; ids must be unique. A
// file instead of a directory: the scenarios of that file.
tl::expected<std::vector<Scenario>, LoadError> load_catalogue(const std::filesystem::path& dir);

// Parses "2s", "250ms", "2rto", "0.5srto", "1rto+0.5s".
tl::expected<Wait, std::string> parse_wait(const std::string& text);

}  // namespace tftp::scenario
