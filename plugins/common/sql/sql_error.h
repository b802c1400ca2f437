// The one error a database can raise that is the row's fault, not the pipeline's.
#pragma once

#include <stdexcept>

namespace sql {

// The database refused a row because of its data (PostgreSQL SQLSTATE classes 22 and 23, SQLite
// constraint and type errors): the row becomes a dead letter, the rest of the batch goes on.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sql
