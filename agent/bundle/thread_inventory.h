#pragma once
// The thread inventory of an incident bundle: one row per thread of a process (threads.csv) and the number of
// threads per name (threads_by_name.csv), read from <proc_root>/<pid>/task/<tid>/stat.
//
// Written for the moment a bundle is taken: the process may be close to its memory limit and may run 100,000
// threads, so time and memory are bounded rather than the listing being complete.
//
// Thread-safety: WriteThreadInventory is thread-safe (it keeps no state); each sink must be used by one
// writer at a time.
// Cost: one getdents64 per ~300 threads, then per thread read: openat + read + close of its stat file (three
// syscalls; the kernel formats ~300 bytes). ~10 µs per thread; at most max_threads threads are read.
// Memory: no per-thread state. The per-name counts only: one entry per distinct thread name (a name is at
// most 15 bytes, the kernel's TASK_COMM_LEN), plus 4 KiB of stack per stat file read and the getdents buffer
// (8 KiB of stack).

#include <cstddef>
#include <string>

#include "agent/bundle/text_sink.h"
#include "leakwatch/result.h"

namespace leakwatch::internal {

struct ThreadInventoryOptions {
  std::string proc_root = "/proc";
  std::string pid = "self";
  // Threads read at most; more set ThreadInventorySummary::truncated.
  size_t max_threads = 100000;
};

struct ThreadInventorySummary {
  size_t threads = 0;          // threads read (each counted in threads_by_name.csv)
  size_t threads_written = 0;  // rows in threads.csv: fewer than `threads` when that sink filled up
  bool truncated = false;      // threads were left unread because of max_threads
  size_t names = 0;            // distinct thread names (rows of threads_by_name.csv)
};

// Writes to `threads` the CSV
//   tid,name,state,utime_seconds,stime_seconds
// one row per thread, in the order of the task directory (ascending tid on procfs): state is proc(5)'s one
// letter (R, S, D, Z, ...), CPU times are in seconds with two decimals (clock ticks / sysconf(_SC_CLK_TCK)).
// Writes to `by_name` the CSV
//   name,count
// sorted by count (descending) then name (byte order), counting every thread read. Names are CSV-escaped (RFC
// 4180: quoted when they contain a comma, a double quote, CR or LF; a quote doubled); they may contain spaces
// and ')' (the stat file's comm is taken up to its last ')').
//
// A thread that exits between the listing and the read of its stat file is skipped without error. A sink
// that refuses a write (full or failed) gets nothing more; when `threads` fills up the threads are still
// counted by name. Errors (the task directory missing, a stat file unreadable for another reason than the
// thread's exit, a stat file that does not parse) name the path and the cause; an error stops the listing,
// threads_by_name.csv is still written for the threads read before it, then the error is returned.
Result<ThreadInventorySummary> WriteThreadInventory(const ThreadInventoryOptions& options, TextSink& threads,
                                                    TextSink& by_name);

}  // namespace leakwatch::internal
