#include "connection_string.h"

#include <Poco/Environment.h>
#include <libpq-fe.h>

#include <map>
#include <memory>
#include <regex>
#include <stdexcept>

namespace sql {

Connection parseConnection(const std::string& text, const std::string& passwordEnv) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(
      PQconninfoParse(text.c_str(), &error), PQconninfoFree);
  if (!options) {
    std::string reason = error ? error : "out of memory";
    if (error) PQfreemem(error);
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
    // libpq quotes the offending part, which may be a piece of the password: keep the option
    // name of "invalid connection option", drop every other quotation.
    if (reason.rfind("invalid connection option", 0) != 0) {
      reason = std::regex_replace(reason, std::regex("\"[^\"]*\""), "(...)");
    }
    throw std::runtime_error("the database connection cannot be parsed: " + reason +
                             " (expected postgresql://user@host:port/db or libpq key=value)");
  }
  std::map<std::string, std::string> values;
  for (const PQconninfoOption* o = options.get(); o->keyword; ++o) {
    if (o->val) values[o->keyword] = o->val;
  }
  if (!passwordEnv.empty()) {
    std::string password = Poco::Environment::get(passwordEnv, "");
    if (!password.empty()) values["password"] = password;
  }
  if (!values.count("connect_timeout")) values["connect_timeout"] = "10";
  Connection connection;
  for (const auto& [key, value] : values) {
    connection.keywords.push_back(key);
    connection.values.push_back(value);
  }
  auto get = [&](const char* key, const std::string& fallback) {
    auto it = values.find(key);
    return it == values.end() || it->second.empty() ? fallback : it->second;
  };
  std::string user = get("user", "");
  connection.description = "postgresql://" + (user.empty() ? "" : user + "@") +
                           get("host", get("hostaddr", "localhost")) +
                           (values.count("port") ? ":" + values["port"] : "") + "/" +
                           get("dbname", "");
  return connection;
}

std::string scrub(std::string message, const Connection& connection) {
  for (std::size_t i = 0; i < connection.keywords.size(); ++i) {
    const std::string& secret = connection.values[i];
    if (connection.keywords[i] != "password" || secret.empty()) continue;
    for (std::size_t pos; (pos = message.find(secret)) != std::string::npos;) {
      message.replace(pos, secret.size(), "<redacted>");
    }
  }
  static const std::regex password("password\\s*=\\s*('([^'\\\\]|\\\\.)*'|\\S+)",
                                   std::regex::icase);
  message = std::regex_replace(message, password, "password=<redacted>");
  static const std::regex uriPassword("(postgres(ql)?://[^:/@\\s]*):[^@\\s]*@");
  return std::regex_replace(message, uriPassword, "$1:<redacted>@");
}

}  // namespace sql
