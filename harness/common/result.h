// Errors are values. Codec, engine and pcap layers return Result<T> (tl::expected,
// since std::expected is not available to clang 14).
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace tftp {

// A failure outside the wire format (files, sockets, configuration): a stable id for
// machines and a message for people.
struct Error {
  std::string id;       // e.g. "tftp.io.open_failed"
  std::string message;  // human-readable, names the object (file, address) involved

  std::string to_string() const { return id + ": " + message; }
};

template <class T, class E = Error>
using Result = tl::expected<T, E>;

inline tl::unexpected<Error> make_error(std::string id, std::string message) {
  return tl::unexpected<Error>(Error{std::move(id), std::move(message)});
}

}  // namespace tftp
