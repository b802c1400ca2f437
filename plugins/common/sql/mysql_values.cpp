#include "mysql_values.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <regex>

namespace sql {
namespace {

std::string lower(const std::string& text) {
  std::string out;
  for (char c : text) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // "timestamp  with time zone" and "numeric(10, 2)": one space between words, none in ().
  std::string squeezed;
  for (char c : out) {
    if (c == ' ' && (squeezed.empty() || squeezed.back() == ' ' || squeezed.back() == '(' ||
                     squeezed.back() == ',')) {
      continue;
    }
    if ((c == ')' || c == ',' || c == '(') && !squeezed.empty() && squeezed.back() == ' ') {
      squeezed.pop_back();
    }
    squeezed += c;
  }
  while (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
  return squeezed;
}

bool isTimestamp(const std::string& t) {
  return t == "timestamptz" || t == "timestamp with time zone" || t == "timestamp" ||
         t == "timestamp without time zone" || t.rfind("datetime", 0) == 0;
}

}  // namespace

std::string mysqlType(const std::string& declared, bool key) {
  std::string t = lower(declared.empty() ? "text" : declared);
  if (t == "text") return key ? "VARCHAR(255)" : "LONGTEXT";
  if (t == "bigint" || t == "int8" || t == "bigserial") return "BIGINT";
  if (t == "integer" || t == "int" || t == "int4" || t == "serial") return "INT";
  if (t == "smallint" || t == "int2") return "SMALLINT";
  if (t == "boolean" || t == "bool") return "BOOLEAN";
  if (t == "double precision" || t == "float8") return "DOUBLE";
  if (t == "real" || t == "float4") return "FLOAT";
  if (isTimestamp(t)) return "DATETIME(6)";
  if (t == "date") return "DATE";
  if (t == "json" || t == "jsonb") return "JSON";
  if (t == "bytea") return key ? "VARBINARY(255)" : "LONGBLOB";
  if (t == "uuid") return "CHAR(36)";
  // numeric without precision holds any number in PostgreSQL; MySQL's widest DECIMAL is (65,30).
  if (t == "numeric" || t == "decimal") return "DECIMAL(65,30)";
  if (t.rfind("numeric(", 0) == 0) return "DECIMAL" + t.substr(7);
  if (t.rfind("character varying(", 0) == 0) return "VARCHAR" + t.substr(17);
  return declared;
}

std::optional<std::string> mysqlValue(const std::string& declared, std::string_view value) {
  if (declared.empty()) return std::nullopt;
  std::string t = lower(declared);
  if (t == "boolean" || t == "bool") {
    std::string v = lower(std::string(value));
    if (v == "true" || v == "t" || v == "yes" || v == "on" || v == "y") return "1";
    if (v == "false" || v == "f" || v == "no" || v == "off" || v == "n") return "0";
    return std::nullopt;
  }
  if (!isTimestamp(t)) return std::nullopt;
  // YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|+HH[:MM]|-HH[:MM]]
  static const std::regex iso(
      "(\\d{4})-(\\d{2})-(\\d{2})[T ](\\d{2}):(\\d{2}):(\\d{2})(\\.(\\d{1,9}))?"
      "(Z|z|([+-])(\\d{2}):?(\\d{2})?)?");
  std::cmatch m;
  if (!std::regex_match(value.data(), value.data() + value.size(), m, iso)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  time_t seconds = timegm(&tm);
  if (m[10].matched) {
    long offset = std::stol(m[11]) * 3600 + (m[12].matched ? std::stol(m[12]) * 60 : 0);
    seconds -= m[10] == "+" ? offset : -offset;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
  std::string out = text;
  if (m[8].matched) out += "." + m[8].str().substr(0, 6);
  return out;
}

}  // namespace sql
