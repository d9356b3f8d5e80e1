#pragma once
// TextSink: where the parts of an incident bundle write their text, a piece at a time, so that no part has to
// hold a whole file in memory (a bundle is written when memory is scarce).
//
// Thread-safety: none; one writer at a time. Implementations: BundleFile (a file in the bundle being built,
// see bundle_file.h) and StringSink (tests).

#include <cstddef>
#include <string>
#include <string_view>

namespace leakwatch::internal {

class TextSink {
 public:
  virtual ~TextSink() = default;
  // Appends `text`. Returns false once the sink failed or is full (its size cap was reached); the part should
  // stop writing then. Never throws.
  virtual bool Write(std::string_view text) = 0;
  // Bytes accepted so far.
  virtual size_t bytes() const = 0;
};

// Collects everything in memory, up to `cap` bytes.
class StringSink final : public TextSink {
 public:
  explicit StringSink(size_t cap = static_cast<size_t>(-1)) : cap_(cap) {}
  bool Write(std::string_view text) override {
    if (text.size() > cap_ - text_.size()) {
      text_.append(text.substr(0, cap_ - text_.size()));
      return false;
    }
    text_.append(text);
    return true;
  }
  size_t bytes() const override { return text_.size(); }
  const std::string& text() const { return text_; }

 private:
  size_t cap_;
  std::string text_;
};

}  // namespace leakwatch::internal
