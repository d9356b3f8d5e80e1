// A host that itself uses spdlog (Debian's libspdlog, with fmt) and civetweb, the libraries the agent uses
// too, and does what such programs do with them: replaces spdlog's default logger (to stdout, its own
// pattern), sets the global level, registers a logger named "leakwatch", later drops every logger, and runs
// its own civetweb server. It prints "ready <port>" and answers GET /hello with "hello from host"; "quit"
// on stdin ends it (exit 0). Its stdout carries only its own lines.
#include <civetweb.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace {

int Hello(mg_connection* connection, void*) {
  const char body[] = "hello from host";
  mg_printf(
      connection,
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
      std::strlen(body), body);
  return 200;
}

}  // namespace

int main() {
  auto host_logger = spdlog::stdout_logger_mt("host");
  host_logger->set_pattern("host %l %v");
  spdlog::set_default_logger(host_logger);
  spdlog::set_level(spdlog::level::warn);
  spdlog::register_logger(std::make_shared<spdlog::logger>("leakwatch"));  // a name the agent also uses
  spdlog::warn("host started");

  mg_init_library(0);
  const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "2", nullptr};
  mg_callbacks callbacks{};
  mg_context* context = mg_start(&callbacks, nullptr, options);
  if (context == nullptr) {
    std::printf("host: civetweb did not start\n");
    return 2;
  }
  mg_set_request_handler(context, "/hello", &Hello, nullptr);
  mg_server_port port_info[2] = {};
  mg_get_server_ports(context, 2, port_info);
  std::printf("ready %d\n", port_info[0].port);
  std::fflush(stdout);
  spdlog::drop_all();
  spdlog::set_default_logger(host_logger);

  std::string line;
  while (std::getline(std::cin, line) && line != "quit") {
    spdlog::warn("host got {}", line);
  }
  mg_stop(context);
  mg_exit_library();
  spdlog::warn("host stopped");
  return 0;
}
