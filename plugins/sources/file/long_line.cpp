#include "long_line.h"

#include "fingerprint.h"

namespace etl_file {

std::size_t utf8Prefix(const std::string& bytes) {
  for (std::size_t back = 1; back <= 3 && back <= bytes.size(); ++back) {
    unsigned char c = static_cast<unsigned char>(bytes[bytes.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: its lead is further back
    std::size_t length = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    return length > back ? bytes.size() - back : bytes.size();  // a cut character is left out
  }
  return bytes.size();  // not UTF-8 near the end: the bytes as they are
}

etl::DeadLetter longLineLetter(const std::string& stream, const std::string& path,
                               const LineReader& reader, std::string head, uint64_t maxBytes) {
  head.resize(utf8Prefix(head));
  bool gzip = isGzipName(path);
  auto number = reader.lineNumber();
  // The phrase first, for `etlrun dead-letters --reason=...`; then where to look.
  std::string reason = "line of " + std::to_string(reader.lineBytes()) +
                       " bytes is longer than max_record_bytes (" + std::to_string(maxBytes) +
                       "): " + path + (number ? ", line " + std::to_string(*number) : "") +
                       ", from " + (gzip ? "uncompressed " : "") + "byte " +
                       std::to_string(reader.lineStart()) +
                       "; read through and skipped, its first " + std::to_string(head.size()) +
                       " bytes are this dead letter's record";
  etl::Record record(stream, std::move(head));
  record.metadata()["file"] = path;
  record.metadata()["offset"] = std::to_string(reader.lineStart());
  record.metadata()["bytes"] = std::to_string(reader.lineBytes());
  if (number) record.metadata()["line"] = std::to_string(*number);
  return {std::move(record), {}, std::move(reason)};
}

}  // namespace etl_file
