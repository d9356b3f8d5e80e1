#pragma once
// leakwatch::Result<T>: a value or an Error, returned by every fallible leakwatch call.
//
// Thread-safety: a Result is a plain value; distinct objects may be used from distinct threads.
// Cost: one std::variant; no allocation beyond what T and the error message need.

#include <string>
#include <utility>
#include <variant>

#pragma GCC visibility push(default)  // the public API: exported by libleakwatch.so
namespace leakwatch {

// An error that names what went wrong: the file, line or field, the value and the cause.
struct Error {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // REQUIRES: !ok().
  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result of an operation that yields nothing on success.
struct Ok {};
using Status = Result<Ok>;
inline Status OkStatus() { return Ok{}; }

}  // namespace leakwatch

#pragma GCC visibility pop
