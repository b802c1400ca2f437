// Which file a file is, whatever its name: a hash of its first bytes. Shared by the backfill's
// finished files and the followed files, with the hash and its text form they store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace etl_file {

// The first bytes of a file (at most kFingerprintBytes).
struct Fingerprint {
  uint32_t length = 0;  // bytes hashed (fewer when the file was shorter)
  uint64_t hash = 0;
  bool operator==(const Fingerprint& o) const { return length == o.length && hash == o.hash; }
};
constexpr uint32_t kFingerprintBytes = 1024;

// FNV-1a: enough to tell files apart (not a defence against forgery).
uint64_t fnv1a(std::string_view bytes);
// A hash as checkpoints keep it (16 hex digits), and back.
std::string hashText(uint64_t hash);
uint64_t hashFromText(const std::string& text);

// The fingerprint of `path`'s first `length` bytes (false when it has fewer or cannot be read).
bool fingerprintOf(const std::string& path, uint32_t length, Fingerprint& out);
// The fingerprint of bytes in hand.
Fingerprint fingerprintOfBytes(const char* data, std::size_t n);

// A gzip file by its name (what is read decompressed, and does not grow).
bool isGzipName(const std::string& path);

}  // namespace etl_file
