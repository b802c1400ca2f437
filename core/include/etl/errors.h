// etl/errors.h: how a plugin tells the runner what kind of failure it hit.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "etl/clock.h"

namespace etl {

// A transient failure (server unreachable, rate limited, 5xx): the runner retries the same work
// with exponential backoff and jitter, never earlier than `notBefore` when given, and logs it.
class RetryableError : public std::runtime_error {
 public:
  explicit RetryableError(const std::string& what, std::optional<TimePoint> notBefore = {})
      : std::runtime_error(what), notBefore_(notBefore) {}
  const std::optional<TimePoint>& notBefore() const { return notBefore_; }

 private:
  std::optional<TimePoint> notBefore_;
};

// Any other exception from a plugin is permanent: the pipeline stops with the message.

}  // namespace etl
