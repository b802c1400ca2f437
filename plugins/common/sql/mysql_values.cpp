#include "mysql_values.h"

#include <cctype>

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

}  // namespace sql
