// Database connection settings: a postgresql:// URI or libpq key=value text in, parsed by libpq
// itself (PQconninfoParse: every quoting and percent-encoding rule libpq has), out as keyword/value
// arrays for PQconnectdbParams, plus a description that is safe to log (never a password).
#pragma once

#include <string>
#include <vector>

namespace sql {

struct Connection {
  std::vector<std::string> keywords, values;  // for libpq; may hold the password
  std::string description;                    // postgresql://user@host:port/db, for logs
};

// `passwordEnv` names an environment variable whose value, when set, becomes the password.
// Throws std::runtime_error (a mistake, not worth retrying) when libpq cannot parse `text`; the
// message never repeats the text.
Connection parseConnection(const std::string& text, const std::string& passwordEnv);

// Removes the password and anything password-like from a driver's error message.
std::string scrub(std::string message, const Connection& connection);

}  // namespace sql
