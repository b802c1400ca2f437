// The one error a database can raise that is the row's fault, not the pipeline's.
#pragma once

#include <stdexcept>
#include <string>

namespace sql {

// The database refused a row because of its data (PostgreSQL SQLSTATE classes 22 and 23, SQLite
// constraint and type errors): the row becomes a dead letter, the rest of the batch goes on.
class DataError : public std::runtime_error {
 public:
  explicit DataError(const std::string& what, std::string state = {})
      : std::runtime_error(what), state_(std::move(state)) {}
  // PostgreSQL's SQLSTATE ("23505": a unique key already taken), "" when not known.
  const std::string& state() const { return state_; }

 private:
  std::string state_;
};

}  // namespace sql
