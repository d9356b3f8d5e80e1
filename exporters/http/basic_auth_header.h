#pragma once
// Parsing of the HTTP `Authorization: Basic ...` request header (RFC 7617).
//
// Thread-safety: pure function. Cost: linear in the header's length.

#include <optional>
#include <string>
#include <string_view>

namespace leakwatch::exporters {

struct BasicCredentials {
  std::string user;
  std::string password;  // may contain ':'
};

// The credentials of an Authorization header value such as "Basic dXNlcjpwYXNz"; the scheme name is
// case-insensitive. nullopt for another scheme, invalid base64 (padding optional) or a decoded value without
// ':'.
std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header_value);

}  // namespace leakwatch::exporters
