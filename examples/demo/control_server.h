#pragma once
// The demo's control API: a small HTTP server (civetweb C API, 1 listener + 2 worker threads) that sets the
// leak rates, frees leaked memory and fds, reports status and asks the program to quit. GET and POST are both
// accepted on every endpoint (curl convenience). Bodies are JSON. See examples/demo/README.md.
//
// Thread-safety: Start() and the destructor are called from one thread; requests run on civetweb's threads.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "examples/demo/leaker.h"
#include "leakwatch/result.h"

struct mg_context;
struct mg_connection;

namespace leakwatch_demo {

class ControlServer {
 public:
  // Called (once) on a worker thread when /quit is requested, after the response was sent.
  using QuitFn = std::function<void()>;

  // `listen` is in civetweb form ("127.0.0.1:0", see ParseListen). `leaker` must outlive the server.
  // Errors carry civetweb's cause, e.g. "cannot bind to 127.0.0.1:9861: 98 (Address already in use)".
  static leakwatch::Result<std::unique_ptr<ControlServer>> Start(const std::string& listen, Leaker* leaker,
                                                                 QuitFn on_quit);

  ~ControlServer();  // stops serving and joins civetweb's threads (may take up to ~2 s)
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  int port() const { return port_; }

 private:
  ControlServer(Leaker* leaker, QuitFn on_quit) : leaker_(leaker), on_quit_(std::move(on_quit)) {}
  static int Handle(mg_connection* conn, void* self);
  int HandleRequest(mg_connection* conn);

  Leaker* leaker_;
  QuitFn on_quit_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

// The JSON body of GET /status.
std::string StatusJson(long pid, const LeakStatus& status);

}  // namespace leakwatch_demo
