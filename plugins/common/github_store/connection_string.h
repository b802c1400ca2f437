// Database connection settings: a postgresql:// URI or libpq key=value text in, libpq key=value
// text out, plus a description that is safe to log (never a password).
#pragma once

#include <string>

namespace store {

struct Connection {
  std::string conninfo;     // for libpq; may hold the password
  std::string description;  // postgresql://user@host:port/db, for logs and errors
};

// `passwordEnv` names an environment variable whose value, when set, becomes the password.
Connection parseConnection(const std::string& text, const std::string& passwordEnv);

// Removes anything password-like and the raw connection text from a driver's error message
// (Poco puts the whole connection string into its exceptions).
std::string scrub(std::string message, const Connection& connection);

}  // namespace store
