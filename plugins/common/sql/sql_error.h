// The one error a database can raise that is the row's fault, not the pipeline's.
#pragma once

#include <stdexcept>
#include <string>

namespace sql {

// The database refused a row, or a statement of rows, for what may be a row's fault (PostgreSQL:
// bad values, constraints, limits a value exceeds, a trigger that raises; see mayBeTheRows in
// pg_session.cpp; SQLite constraint and type errors): written again row by row, each row it
// still names becomes a dead letter, and the rest of the batch goes on.
class DataError : public std::runtime_error {
 public:
  explicit DataError(const std::string& what, std::string state = {})
      : std::runtime_error(what), state_(std::move(state)) {}
  // PostgreSQL's SQLSTATE ("23505": a unique key already taken), "" when not known.
  const std::string& state() const { return state_; }

 private:
  std::string state_;
};

// A statement waited longer than lock_timeout for a lock another transaction holds (55P03), or
// the server broke a deadlock by aborting it (40P01). With parallel writers the other side can be
// a later batch of the same pipeline, itself waiting for the turn of an earlier one: the writer
// rolls back, waits until every earlier batch has committed, and writes its batch again (no wait
// between batches can then last).
class LockConflict : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sql
