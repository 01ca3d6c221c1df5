// Where a transfer's bytes come from and go to. The engine calls these synchronously;
// they are the only effects it has besides the datagrams it returns.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "proto/netascii.h"

namespace tftp::engine {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Fills `out` completely unless the end of the data is reached; returns the count.
  virtual Result<size_t> read(std::span<uint8_t> out) = 0;
  // Bytes that read() will yield in total, when known (for the tsize option).
  virtual std::optional<uint64_t> size() const = 0;
};

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Result<void> write(std::span<const uint8_t> bytes) = 0;
  // The transfer completed: make the data visible (e.g. rename a temporary file).
  virtual Result<void> commit() = 0;
  // The transfer failed: leave nothing behind under the final name.
  virtual void abort() = 0;
};

// Reads bytes held in memory: its own, or bytes shared by many sources without a copy each
// (a file store's file served to every client, one upload sent by every load client).
class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::vector<uint8_t> bytes)
      : bytes_(std::make_shared<const std::vector<uint8_t>>(std::move(bytes))) {}
  explicit MemorySource(std::shared_ptr<const std::vector<uint8_t>> bytes) : bytes_(std::move(bytes)) {}
  Result<size_t> read(std::span<uint8_t> out) override;
  std::optional<uint64_t> size() const override { return bytes_->size(); }

 private:
  std::shared_ptr<const std::vector<uint8_t>> bytes_;
  size_t pos_ = 0;
};

// Collects into memory. The transfer owns the sink; `contents()` is shared, so the caller
// can read the bytes and the end state after the transfer is gone. With a `limit`, a write
// past it fails (the transfer ends with a local error): a peer that never ends a transfer
// cannot fill our memory.
class MemorySink : public ByteSink {
 public:
  struct Contents {
    std::vector<uint8_t> bytes;
    bool committed = false;
    bool aborted = false;
  };
  explicit MemorySink(std::optional<size_t> limit = std::nullopt) : contents_(std::make_shared<Contents>()), limit_(limit) {}
  Result<void> write(std::span<const uint8_t> bytes) override;
  Result<void> commit() override;
  void abort() override { contents_->aborted = true; }
  std::shared_ptr<const Contents> contents() const { return contents_; }

 private:
  std::shared_ptr<Contents> contents_;
  std::optional<size_t> limit_;
};

// Wraps a source of local text and yields netascii (RFC 1350 §1).
class NetasciiEncodingSource : public ByteSource {
 public:
  // `encoded_size` is the size after encoding, when the caller could compute it.
  NetasciiEncodingSource(std::unique_ptr<ByteSource> inner, std::optional<uint64_t> encoded_size)
      : inner_(std::move(inner)), encoded_size_(encoded_size) {}
  Result<size_t> read(std::span<uint8_t> out) override;
  std::optional<uint64_t> size() const override { return encoded_size_; }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::optional<uint64_t> encoded_size_;
  proto::NetasciiEncoder encoder_;
  std::vector<uint8_t> buffer_;
  size_t buffer_pos_ = 0;
  bool inner_done_ = false;
};

// Wraps a sink and decodes netascii into local text.
class NetasciiDecodingSink : public ByteSink {
 public:
  explicit NetasciiDecodingSink(std::unique_ptr<ByteSink> inner) : inner_(std::move(inner)) {}
  Result<void> write(std::span<const uint8_t> bytes) override;
  Result<void> commit() override;
  void abort() override { inner_->abort(); }

 private:
  std::unique_ptr<ByteSink> inner_;
  proto::NetasciiDecoder decoder_;
  std::vector<uint8_t> decoded_;
};

}  // namespace tftp::engine
