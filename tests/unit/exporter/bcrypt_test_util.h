#pragma once
// Makes bcrypt hashes at test time with libcrypt (cost 4 is ~1 ms, cost 10 ~60 ms).

#include <crypt.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace leakwatch::exporters::testdata {

inline std::string Bcrypt(const std::string& password, int cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2y$", static_cast<unsigned long>(cost), nullptr, 0, salt, sizeof salt) == nullptr) {
    throw std::runtime_error("crypt_gensalt_rn failed");
  }
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), salt, data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') throw std::runtime_error("crypt_rn failed");
  return out;
}

}  // namespace leakwatch::exporters::testdata
