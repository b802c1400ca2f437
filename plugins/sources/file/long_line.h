// What a line longer than max_record_bytes becomes: one dead letter holding its first bytes, with
// a reason that gives its length, the limit and where it was (file, line, byte), so that it can
// be found and its writer told, while the rest of the file goes on.
#pragma once

#include <cstddef>
#include <string>

#include "etl/batch.h"
#include "line_reader.h"

namespace etl_file {

// What the dead letter keeps of the line: enough to recognise the record (a JSON event's type,
// id and actor come first), little enough that a file of such lines cannot make the dead letters
// a memory or storage problem of their own.
constexpr std::size_t kKeptBytes = 1024;

// The longest prefix of `bytes` that does not end inside a UTF-8 character: a cut line that was
// valid text stays valid text in the dead letter (no replacement character, no exact-bytes copy).
std::size_t utf8Prefix(const std::string& bytes);

// The dead letter for the line `reader` just returned as TooLong, `head` being its first bytes.
etl::DeadLetter longLineLetter(const std::string& stream, const std::string& path,
                               const LineReader& reader, std::string head, uint64_t maxBytes);

}  // namespace etl_file
