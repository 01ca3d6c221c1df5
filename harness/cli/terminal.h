// What the tftpspec command draws on a terminal, shared by its subcommands: verdict colours,
// aligned tables, and the comparison with a baseline.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "report/model.h"

namespace tftp::cli {

// Colour only on a terminal, and never with NO_COLOR (https://no-color.org).
bool colour_wanted(std::FILE* out);
// The SGR sequence of a verdict word.
const char* verdict_colour(report::Verdict v);
inline constexpr const char* kColourReset = "\033[0m";

// Columns a terminal shows for UTF-8 text (a citation's '§' is two bytes, one column).
size_t display_width(const std::string& text);

// Rows padded into aligned columns (two spaces apart, the last column unpadded).
// `colour(row, column)` may name an SGR sequence for a cell, or nullptr.
using CellColour = std::function<const char*(size_t row, size_t column)>;
void print_table(std::FILE* out, const std::vector<std::vector<std::string>>& rows, const CellColour& colour = {});

// `run --baseline`: the changes, grouped, regressions first; a line saying whether any is a
// regression ends it.
void print_comparison(std::FILE* out, const report::BaselineComparison& comparison, bool colour);

}  // namespace tftp::cli
