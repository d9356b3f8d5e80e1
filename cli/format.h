#pragma once
// Number, size, duration and table formatting for the `leakwatch` command's human output.
//
// Thread-safety: pure functions.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace leakwatch::cli {

// 0 B, 512 B, 1.5 KiB, 12.3 MiB, 2.0 GiB (powers of 1024; one decimal from KiB up).
std::string FormatBytes(double bytes);
// A config duration the way the config file writes it: 250ms, 1s, 1500ms, 5m, 1h, 0.
std::string FormatDuration(std::chrono::milliseconds d);
// An elapsed time for people: 45s, 12m05s, 3h07m, 2d04h.
std::string FormatElapsed(double seconds);
// A number with at most `decimals` decimals, trailing zeros dropped: 3.2, 17, 0.35.
std::string FormatNumber(double value, int decimals = 2);
// Left-aligned columns separated by two spaces; the last column is not padded.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);
// The non-empty lines of a multi-line message (an Error lists one problem per line).
std::vector<std::string> NonEmptyLines(std::string_view text);

}  // namespace leakwatch::cli
