#include "examples/demo/control_server.h"

#include <civetweb.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "examples/demo/flags.h"

namespace leakwatch_demo {
namespace {

// civetweb reports why mg_start() failed only through log_message, on the thread calling mg_start().
thread_local std::vector<std::string>* t_start_messages = nullptr;

int OnLogMessage(const mg_connection* /*conn*/, const char* message) {
  if (t_start_messages != nullptr) {
    t_start_messages->emplace_back(message);
    return 1;  // collected: civetweb need not print it
  }
  std::fprintf(stderr, "leakwatch-demo: control server: %s\n", message);
  return 1;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

int Reply(mg_connection* conn, int status, const std::string& body) {
  const char* reason = status == 200   ? "OK"
                       : status == 400 ? "Bad Request"
                       : status == 404 ? "Not Found"
                       : status == 405 ? "Method Not Allowed"
                                       : "Error";
  mg_printf(
      conn,
      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n\r\n",
      status, reason, body.size() + 1);
  mg_write(conn, body.data(), body.size());
  mg_write(conn, "\n", 1);
  return status;
}

int ReplyError(mg_connection* conn, int status, const std::string& message) {
  return Reply(conn, status, "{\"error\":" + JsonString(message) + "}");
}

}  // namespace

std::string StatusJson(long pid, const LeakStatus& s) {
  std::string out = "{\"pid\":" + std::to_string(pid) +
                    ",\"leaked_bytes\":" + std::to_string(s.leaked_bytes) +
                    ",\"leaked_threads\":" + std::to_string(s.leaked_threads) +
                    ",\"leaked_fds\":" + std::to_string(s.leaked_fds) +
                    ",\"rates\":{\"memory_mib_per_s\":" + JsonNumber(s.rates.memory_mib_per_s) +
                    ",\"threads_per_s\":" + JsonNumber(s.rates.threads_per_s) +
                    ",\"fds_per_s\":" + JsonNumber(s.rates.fds_per_s) + "}";
  if (!s.last_error.empty()) out += ",\"last_error\":" + JsonString(s.last_error);
  return out + "}";
}

leakwatch::Result<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& listen,
                                                                       Leaker* leaker, QuitFn on_quit) {
  std::unique_ptr<ControlServer> server(new ControlServer(leaker, std::move(on_quit)));
  const char* options[] = {
      "listening_ports",   listen.c_str(), "num_threads", "2", "request_timeout_ms", "3000",
      "enable_keep_alive", "no",           nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = &OnLogMessage;
  std::vector<std::string> messages;
  t_start_messages = &messages;
  server->ctx_ = mg_start(&callbacks, server.get(), options);
  t_start_messages = nullptr;
  if (server->ctx_ == nullptr) {
    std::string why;
    for (const auto& m : messages) why += (why.empty() ? "" : "; ") + m;
    return leakwatch::Error{"control server cannot listen on " + listen + ": " +
                            (why.empty() ? "civetweb failed to start" : why)};
  }
  mg_set_request_handler(server->ctx_, "/", &ControlServer::Handle, server.get());
  mg_server_port ports[4]{};
  const int n = mg_get_server_ports(server->ctx_, 4, ports);
  if (n < 1) return leakwatch::Error{"control server: cannot read back the listening port"};
  server->port_ = ports[0].port;
  return server;
}

ControlServer::~ControlServer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

int ControlServer::Handle(mg_connection* conn, void* self) {
  try {
    return static_cast<ControlServer*>(self)->HandleRequest(conn);
  } catch (const std::exception& e) {
    return ReplyError(conn, 500, std::string("internal error: ") + e.what());
  }
}

int ControlServer::HandleRequest(mg_connection* conn) {
  const mg_request_info* req = mg_get_request_info(conn);
  const std::string_view method = req->request_method != nullptr ? req->request_method : "";
  const std::string_view uri = req->local_uri != nullptr ? req->local_uri : "";
  const char* query = req->query_string != nullptr ? req->query_string : "";
  if (method != "GET" && method != "POST") {
    return ReplyError(conn, 405, "method " + std::string(method) + " not allowed: use GET or POST");
  }

  // Reads the single rate parameter `name` of a /leak/... request.
  auto rate_param = [&](const char* name, double max, double* out) -> std::optional<std::string> {
    char buf[64];
    const int len = mg_get_var(query, std::strlen(query), name, buf, sizeof buf);
    if (len == -1) return "missing query parameter " + std::string(name) + " (e.g. ?" + name + "=1)";
    if (len < 0) return "query parameter " + std::string(name) + " is too long";
    const auto v = ParseRate(std::string_view(buf, static_cast<size_t>(len)), max);
    if (!v) {
      return "invalid value \"" + std::string(buf, static_cast<size_t>(len)) + "\" for " + name +
             ": expected a number in 0.." + JsonNumber(max);
    }
    *out = *v;
    return std::nullopt;
  };
  auto status_reply = [&] {
    return Reply(conn, 200, StatusJson(static_cast<long>(getpid()), leaker_->status()));
  };

  if (uri == "/status" || uri == "/") return status_reply();
  if (uri == "/leak/memory") {
    double v = 0;
    if (auto err = rate_param("mib_per_s", kMaxMemoryMibPerS, &v)) return ReplyError(conn, 400, *err);
    leaker_->set_memory_rate(v);
    return status_reply();
  }
  if (uri == "/leak/threads") {
    double v = 0;
    if (auto err = rate_param("per_s", kMaxThreadsPerS, &v)) return ReplyError(conn, 400, *err);
    leaker_->set_threads_rate(v);
    return status_reply();
  }
  if (uri == "/leak/fds") {
    double v = 0;
    if (auto err = rate_param("per_s", kMaxFdsPerS, &v)) return ReplyError(conn, 400, *err);
    leaker_->set_fds_rate(v);
    return status_reply();
  }
  if (uri == "/free") {
    const FreeResult r = leaker_->free_all();
    const LeakStatus s = leaker_->status();
    return Reply(
        conn, 200,
        "{\"freed_bytes\":" + std::to_string(r.freed_bytes) + ",\"closed_fds\":" +
            std::to_string(r.closed_fds) + ",\"leaked_threads\":" + std::to_string(s.leaked_threads) +
            ",\"note\":\"leaked threads cannot be released: they stay blocked until the process exits\"}");
  }
  if (uri == "/quit") {
    const int rc = Reply(conn, 200, "{\"quitting\":true}");
    if (on_quit_) on_quit_();
    return rc;
  }
  return ReplyError(
      conn, 404,
      "no such endpoint " + std::string(uri) +
          " (try /status, /leak/memory?mib_per_s=X, /leak/threads?per_s=X, /leak/fds?per_s=X, /free, "
          "/quit)");
}

}  // namespace leakwatch_demo
