#pragma once
// WebhookSink: a minimal HTTP receiver on 127.0.0.1 that records every request (method, path, body) and
// answers 200 — the stand-in for PagerDuty and the ticket system that Alertmanager's webhook receivers post
// to in the ops-kit tests.
//
// One thread accepts and serves connections one at a time (Alertmanager sends one notification per request).
// Every read is bounded by a deadline, so a client that stalls cannot hang the test.
// Thread-safety: Requests() and WaitUntil() may be called from any thread while the sink runs.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::integration {

struct WebhookRequest {
  std::string method;
  std::string path;
  std::string body;
  std::chrono::steady_clock::time_point received;
};

class WebhookSink {
 public:
  // Listens on 127.0.0.1 at a free port.
  static Result<std::unique_ptr<WebhookSink>> Start();
  ~WebhookSink();  // stops the thread and closes the socket
  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  int port() const { return port_; }
  std::vector<WebhookRequest> Requests() const;
  // Evaluates `condition` (without holding the sink's lock: it may call Requests()) now and after every new
  // request, at least every 200 ms, until it holds or `timeout` passes; returns its last result.
  bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) const;

 private:
  WebhookSink(int fd, int port);
  void Serve();
  void HandleConnection(int fd);

  int listen_fd_;
  int port_;
  bool stop_ = false;  // guarded by mu_
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::vector<WebhookRequest> requests_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace leakwatch::integration
