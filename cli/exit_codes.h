#pragma once
// The exit codes of the `leakwatch` command (docs/CLI.md).

namespace leakwatch::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // agent unreachable, HTTP error, invalid config
inline constexpr int kExitUsage = 2;        // unknown option, missing argument (not `run`)
inline constexpr int kExitFiring = 3;       // status: at least one rule is firing
inline constexpr int kExitSuppressed = 4;   // capture: the agent held the bundle back (429/503)
inline constexpr int kExitRunError = 125;   // run: leakwatch's own error; the program was not started
inline constexpr int kExitCannotRun = 126;  // run: the program was found but could not be executed
inline constexpr int kExitNotFound = 127;   // run: the program was not found

}  // namespace leakwatch::cli
