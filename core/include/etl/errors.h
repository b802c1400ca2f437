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

// The request budget is spent (or the server asked us to slow down): nothing is wrong with the
// work itself, it just has to wait until notBefore(). Callers that count failed attempts should
// not count this one.
class RateLimitedError : public RetryableError {
 public:
  using RetryableError::RetryableError;
};

// A checkpoint that cannot be used: garbage, a field of the wrong type, a value out of range, an
// emptied file. Thrown by Source::open() (and by sinks reading their committed checkpoint); the
// runner stops the pipeline saying where the checkpoint lives and how to reset it. Never read a
// broken checkpoint as "start from scratch": that silently reads everything again.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by CommitTurn::wait() when the batch must not commit because an earlier one will not
// (the pipeline failed, or stops while an earlier batch waits to be retried). Roll back and let
// it pass: the batch is not committed and its records are read again on the next start.
class StoppedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Any other exception from a plugin is permanent: the pipeline stops with the message.

}  // namespace etl
