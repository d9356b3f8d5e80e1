#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

namespace leakwatch::test_support {

Result<HttpResponse> HttpGet(int port, std::string_view path, const HttpGetOptions& options) {
  in_addr addr{};
  if (::inet_pton(AF_INET, options.host.c_str(), &addr) != 1) {
    return Error{options.method + " http://" + options.host + ":" + std::to_string(port) + std::string(path) +
                 ": bad host or port (the tests' client takes IPv4 literals only)"};
  }
  return cli::HttpRequest(port, path, options);
}

}  // namespace leakwatch::test_support
