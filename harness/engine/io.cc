#include "engine/io.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace tftp::engine {

Result<size_t> MemorySource::read(std::span<uint8_t> out) {
  const size_t n = std::min(out.size(), bytes_->size() - pos_);
  if (n > 0) std::memcpy(out.data(), bytes_->data() + pos_, n);
  pos_ += n;
  return n;
}

Result<void> MemorySink::write(std::span<const uint8_t> bytes) {
  if (limit_ && contents_->bytes.size() + bytes.size() > *limit_) {
    return make_error("tftp.io.too_long", "more than " + std::to_string(*limit_) + " bytes, more than expected: a transfer that does not end");
  }
  contents_->bytes.insert(contents_->bytes.end(), bytes.begin(), bytes.end());
  return {};
}

Result<void> MemorySink::commit() {
  contents_->committed = true;
  return {};
}

Result<size_t> NetasciiEncodingSource::read(std::span<uint8_t> out) {
  size_t produced = 0;
  while (produced < out.size()) {
    if (buffer_pos_ == buffer_.size() && !inner_done_) {
      buffer_.resize(8192);
      auto n = inner_->read(buffer_);
      if (!n) return tl::unexpected(n.error());
      buffer_.resize(*n);
      buffer_pos_ = 0;
      inner_done_ = *n == 0;
    }
    const auto in = std::span<const uint8_t>(buffer_).subspan(buffer_pos_);
    const auto progress = encoder_.encode(in, out.subspan(produced));
    buffer_pos_ += progress.consumed;
    produced += progress.produced;
    if (progress.produced == 0 && inner_done_ && !encoder_.has_pending()) break;
  }
  return produced;
}

Result<void> NetasciiDecodingSink::write(std::span<const uint8_t> bytes) {
  decoded_.clear();
  decoder_.decode(bytes, decoded_);
  return inner_->write(decoded_);
}

Result<void> NetasciiDecodingSink::commit() {
  decoded_.clear();
  decoder_.finish(decoded_);
  if (!decoded_.empty()) {
    if (auto ok = inner_->write(decoded_); !ok) return ok;
  }
  return inner_->commit();
}

}  // namespace tftp::engine
