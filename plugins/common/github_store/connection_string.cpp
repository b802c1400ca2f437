#include "connection_string.h"

#include <Poco/Environment.h>
#include <Poco/URI.h>

#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace store {
namespace {

// libpq quoting: values with spaces, quotes or backslashes go in single quotes, escaped.
std::string quote(const std::string& value) {
  if (!value.empty() && value.find_first_of(" '\\") == std::string::npos) return value;
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

std::map<std::string, std::string> parseKeyValues(const std::string& text) {
  std::map<std::string, std::string> values;
  std::size_t i = 0;
  auto skipSpace = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  while (true) {
    skipSpace();
    if (i >= text.size()) break;
    std::size_t eq = text.find('=', i);
    if (eq == std::string::npos) throw std::invalid_argument("expected key=value in connection");
    std::string key = text.substr(i, eq - i);
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    i = eq + 1;
    skipSpace();
    std::string value;
    if (i < text.size() && text[i] == '\'') {
      for (++i; i < text.size() && text[i] != '\''; ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        value.push_back(text[i]);
      }
      ++i;
    } else {
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])))
        value.push_back(text[i++]);
    }
    values[key] = value;
  }
  return values;
}

}  // namespace

Connection parseConnection(const std::string& text, const std::string& passwordEnv) {
  std::map<std::string, std::string> values;
  if (text.rfind("postgresql://", 0) == 0 || text.rfind("postgres://", 0) == 0) {
    Poco::URI uri(text);
    std::string userInfo = uri.getUserInfo();
    std::size_t colon = userInfo.find(':');
    if (!userInfo.empty()) values["user"] = userInfo.substr(0, colon);
    if (colon != std::string::npos) values["password"] = userInfo.substr(colon + 1);
    if (!uri.getHost().empty()) values["host"] = uri.getHost();
    if (uri.getPort() != 0) values["port"] = std::to_string(uri.getPort());
    std::string path = uri.getPath();
    if (path.size() > 1) values["dbname"] = path.substr(1);
    for (const auto& [key, value] : uri.getQueryParameters()) values[key] = value;
  } else {
    values = parseKeyValues(text);
  }
  if (!passwordEnv.empty()) {
    std::string password = Poco::Environment::get(passwordEnv, "");
    if (!password.empty()) values["password"] = password;
  }
  if (!values.count("connect_timeout")) values["connect_timeout"] = "10";
  Connection connection;
  for (const auto& [key, value] : values) {
    connection.conninfo += (connection.conninfo.empty() ? "" : " ") + key + "=" + quote(value);
  }
  std::ostringstream description;
  description << "postgresql://" << (values.count("user") ? values["user"] + "@" : "")
              << (values.count("host") ? values["host"] : "localhost")
              << (values.count("port") ? ":" + values["port"] : "") << "/"
              << (values.count("dbname") ? values["dbname"] : "");
  connection.description = description.str();
  return connection;
}

std::string scrub(std::string message, const Connection& connection) {
  std::size_t pos;
  while (!connection.conninfo.empty() &&
         (pos = message.find(connection.conninfo)) != std::string::npos) {
    message.replace(pos, connection.conninfo.size(), connection.description);
  }
  static const std::regex password("password\\s*=\\s*('([^'\\\\]|\\\\.)*'|\\S+)",
                                   std::regex::icase);
  message = std::regex_replace(message, password, "password=<redacted>");
  static const std::regex uriPassword("(postgres(ql)?://[^:/@\\s]*):[^@\\s]*@");
  return std::regex_replace(message, uriPassword, "$1:<redacted>@");
}

}  // namespace store
