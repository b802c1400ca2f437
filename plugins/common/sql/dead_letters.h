// A dead letter as a database stores it: any bytes. `record` is always valid UTF-8 without NUL
// (readable, lossy when the bytes were not); then `recordBytes` holds the exact bytes.
#pragma once

#include <optional>
#include <string>

#include "etl/batch.h"

namespace sql {

struct DeadLetterRow {
  std::string plugin, stream, reason, record;
  std::optional<std::string> recordBytes;
  std::string fingerprint;  // makes a replayed batch's dead letters idempotent
};

DeadLetterRow deadLetterRow(const etl::DeadLetter& letter);

}  // namespace sql
