// The messages between the jq transform and its worker processes, over a pipe each way. A message
// is a tag byte and fields; a field is a 32-bit little-endian length and that many bytes.
//
//   transform -> worker   'P' program, args (JSON object), limits (JSON)   once, first
//                         'R' record bytes                                 one per input record
//   worker -> transform   'K' (compiled) | 'C' message (did not compile)   answers 'P'
//                         'O' flags, [stream], [key], [json]               one output of a record
//                         'E' message                                      the record failed
//                         'D'                                              the record is done
//                         'L' message                                      a `debug` line
//
// An 'O' with kIdentity is the input itself, unchanged: the transform keeps the record's own bytes
// (nothing re-serialised, numbers exactly as written), so `select(...)` costs no dump.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace jq_wire {

constexpr char kProgram = 'P', kRecord = 'R';
constexpr char kCompiled = 'K', kCompileError = 'C', kOutput = 'O', kError = 'E', kDone = 'D',
               kLog = 'L';
constexpr uint8_t kIdentity = 1, kHasStream = 2, kHasKey = 4;

inline void putLength(std::string& out, std::size_t n) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
}
inline void putField(std::string& out, std::string_view field) {
  putLength(out, field.size());
  out.append(field.data(), field.size());
}
inline uint32_t getLength(const char* p) {
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return n;
}

// Reads fields from a complete message body.
class Reader {
 public:
  Reader(const char* data, std::size_t size) : p_(data), end_(data + size) {}
  // False when the bytes end before the field does.
  bool field(std::string_view& out) {
    if (end_ - p_ < 4) return false;
    uint32_t n = getLength(p_);
    p_ += 4;
    if (static_cast<std::size_t>(end_ - p_) < n) return false;
    out = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  bool byte(uint8_t& out) {
    if (p_ == end_) return false;
    out = static_cast<uint8_t>(*p_++);
    return true;
  }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace jq_wire
