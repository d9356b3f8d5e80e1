#pragma once
// A self-contained SHA-256 (FIPS 180-4), used only to key the basic-auth cache so that no password is kept in
// memory. Not a general-purpose crypto API: no streaming, no HMAC.
//
// Thread-safety: pure function. Cost: ~5 ns per byte.

#include <array>
#include <cstdint>
#include <string_view>

namespace leakwatch::exporters::internal {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view data);

}  // namespace leakwatch::exporters::internal
