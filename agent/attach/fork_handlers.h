#pragma once
// What leakwatch does when the host forks (pthread_atfork, installed once per process):
//   prepare  takes the logger's locks (waiting at most ~20 ms for a write in progress), so no agent thread
//            holds them, or stdio's, in the child;
//   parent   releases them;
//   child    releases them, closes the child's copies of every agent's listening socket (re-checked first:
//            still a socket listening on that port), and runs the child hook (the preload library's fork
//            policy: start a child agent later, or nothing).
// The child handler makes no allocation and takes no lock the parent's agent threads could have held: it is
// safe after fork() in a multithreaded host. A child of the default policy runs no agent code at all.
//
// Thread-safety: every function may be called from any thread. At most 16 listening sockets are tracked
// (agents per process); more are not closed in children (logged once).

namespace leakwatch::internal {

// Idempotent.
void InstallForkHandlers();

// A listening socket (fd, port) that forked children must close; lock-free.
void TrackListeningSocket(int fd, int port);
void UntrackListeningSocket(int fd);

// Run at the end of the child handler. Set it once, before forks can happen (the preload's constructor).
void SetChildForkHook(void (*hook)());

}  // namespace leakwatch::internal
