#include "fingerprint.h"

#include <algorithm>
#include <cstdio>

namespace etl_file {

uint64_t fnv1a(std::string_view bytes) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ULL;
  return hash;
}

std::string hashText(uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

uint64_t hashFromText(const std::string& text) {
  return std::stoull(text, nullptr, 16);
}

Fingerprint fingerprintOfBytes(const char* data, std::size_t n) {
  return {static_cast<uint32_t>(n), fnv1a(std::string_view(data, n))};
}

bool fingerprintOf(const std::string& path, uint32_t length, Fingerprint& out) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return false;
  char buffer[kFingerprintBytes];
  std::size_t n = std::fread(buffer, 1, std::min<uint32_t>(length, kFingerprintBytes), file);
  std::fclose(file);
  if (n != length) return false;
  out = fingerprintOfBytes(buffer, n);
  return true;
}

bool isGzipName(const std::string& path) {
  return path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
}

}  // namespace etl_file
