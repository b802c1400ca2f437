// etl/text.h: bytes that a text column, a JSON string or a log line can hold.
//
// Input is any bytes: a GH Archive line with a stray Latin-1 byte, a value with a NUL. Databases
// refuse invalid UTF-8 and NUL in text; JSON strings cannot carry raw bytes. These helpers let a
// plugin tell such bytes apart and keep a readable form, while the exact bytes go where bytes fit
// (a bytea/BLOB column, base64).
#pragma once

#include <string>
#include <string_view>

namespace etl {

// True when `text` is valid UTF-8 and has no NUL byte: storable as text exactly.
bool isStorableText(std::string_view text);

// `text` with every invalid UTF-8 sequence and every NUL byte replaced by U+FFFD: always storable,
// readable, lossy. Returns `text` unchanged when it is already storable.
std::string storableText(std::string_view text);

// Standard base64 (RFC 4648, with padding), for exact bytes inside JSON.
std::string base64(std::string_view bytes);

}  // namespace etl
