#include "column_types.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "database.h"
#include "dialects.h"

namespace sql {
namespace {

std::string lowered(const std::string& name) {
  std::string out;
  for (char c : name) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l == ' ' && (out.empty() || out.back() == ' ' || out.back() == '(')) continue;
    if ((l == ')' || l == ',' || l == '(') && !out.empty() && out.back() == ' ') out.pop_back();
    out += l;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// "varchar(20)" -> base "varchar", arguments {20}; "timestamp(3) with time zone" -> base
// "timestamp with time zone", arguments {3}.
void split(const std::string& name, std::string& base, std::vector<long long>& arguments) {
  std::size_t open = name.find('(');
  std::size_t close = name.find(')', open);
  if (open == std::string::npos || close == std::string::npos) {
    base = name;
    return;
  }
  std::string inside = name.substr(open + 1, close - open - 1);
  base = name.substr(0, open) + name.substr(close + 1);
  while (base.find("  ") != std::string::npos) base.erase(base.find("  "), 1);
  while (!base.empty() && base.back() == ' ') base.pop_back();
  std::size_t start = 0;
  while (start <= inside.size()) {
    std::size_t comma = inside.find(',', start);
    std::string part = inside.substr(start, comma == std::string::npos ? comma : comma - start);
    arguments.push_back(std::atoll(part.c_str()));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

ColumnType integer(const char* name, int64_t min, int64_t max) {
  ColumnType t;
  t.kind = ValueKind::Integer;
  t.name = name;
  t.min = min;
  t.max = max;
  return t;
}

ColumnType simple(ValueKind kind, const char* name) {
  ColumnType t;
  t.kind = kind;
  t.name = name;
  return t;
}

std::string shown(std::string_view value) {
  std::string out = "'";
  if (value.size() > 40) {
    out.append(value.substr(0, 37));
    out += "...";
  } else {
    out.append(value);
  }
  // A reason is stored as text: never a control byte or a cut UTF-8 character in it.
  bool utf8 = simdjson::validate_utf8(out.data(), out.size());
  for (char& c : out) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || (!utf8 && byte >= 0x80)) c = '?';
  }
  return out + "'";
}

bool digit(char c) {
  return c >= '0' && c <= '9';
}

Converted refuse(std::string& out, std::string reason) {
  out = std::move(reason);
  return Converted::Refused;
}

Converted convertText(const ColumnType& type, std::string_view value, std::string& out) {
  if (value.find('\0') != std::string_view::npos) {
    return refuse(out, "text holds a NUL byte, which " + type.name + " cannot store");
  }
  if (!simdjson::validate_utf8(value.data(), value.size())) {
    return refuse(out, "text is not valid UTF-8");
  }
  if (type.maxChars) {
    std::size_t chars = 0;
    for (char c : value) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (chars > type.maxChars) {
      return refuse(out, shown(value) + " is " + std::to_string(chars) +
                             " characters, longer than " + type.name + " allows");
    }
  }
  return Converted::Same;
}

Converted convertInteger(const ColumnType& type, std::string_view value, std::string& out) {
  std::size_t i = 0;
  bool negative = false;
  if (i < value.size() && (value[i] == '+' || value[i] == '-')) negative = value[i++] == '-';
  std::size_t first = i;
  while (i < value.size() && digit(value[i])) ++i;
  if (i == first || i != value.size()) return refuse(out, shown(value) + " is not an integer");
  while (first + 1 < value.size() && value[first] == '0') ++first;
  std::string_view digits = value.substr(first);
  bool fits = digits.size() <= 19;  // 19 digits fit in 64 unsigned bits
  uint64_t magnitude = 0;
  if (fits) {
    for (char c : digits) magnitude = magnitude * 10 + static_cast<uint64_t>(c - '0');
    fits = negative ? magnitude <= static_cast<uint64_t>(-(type.min + 1)) + 1
                    : magnitude <= static_cast<uint64_t>(type.max);
  }
  if (!fits) return refuse(out, shown(value) + " is out of range for " + type.name);
  std::string canonical = (negative && magnitude != 0 ? "-" : "") + std::string(digits);
  if (canonical == value) return Converted::Same;
  out = std::move(canonical);
  return Converted::Changed;
}

// A decimal rounded half away from zero to `scale` places, as PostgreSQL's numeric(p, s) does.
Converted convertNumeric(const ColumnType& type, std::string_view value, std::string& out) {
  std::size_t i = 0;
  bool negative = false;
  if (i < value.size() && (value[i] == '+' || value[i] == '-')) negative = value[i++] == '-';
  std::string digits;
  long long exponent = 0;  // value = digits * 10^exponent
  bool any = false;
  for (; i < value.size() && digit(value[i]); ++i) {
    digits += value[i];
    any = true;
  }
  if (i < value.size() && value[i] == '.') {
    for (++i; i < value.size() && digit(value[i]); ++i) {
      digits += value[i];
      --exponent;
      any = true;
    }
  }
  if (any && i < value.size() && (value[i] == 'e' || value[i] == 'E')) {
    ++i;
    bool minus = false;
    if (i < value.size() && (value[i] == '+' || value[i] == '-')) minus = value[i++] == '-';
    std::size_t from = i;
    long long e = 0;
    for (; i < value.size() && digit(value[i]); ++i)
      e = std::min(e * 10 + (value[i] - '0'), 100000LL);
    if (i == from) any = false;
    exponent += minus ? -e : e;
  }
  if (!any || i != value.size()) return refuse(out, shown(value) + " is not a number");
  if (type.precision == 0) return Converted::Same;  // numeric without limits: any decimal
  // digits * 10^(exponent + scale) as an integer: add zeros, or drop digits rounding half up.
  long long shift = exponent + type.scale;
  if (shift >= 0) {
    if (shift > 1000) return refuse(out, shown(value) + " is out of range for " + type.name);
    digits.append(static_cast<std::size_t>(shift), '0');
  } else if (static_cast<std::size_t>(-shift) > digits.size()) {
    digits = "0";  // below half of the last place
  } else {
    std::size_t keep = digits.size() - static_cast<std::size_t>(-shift);
    bool up = digits[keep] >= '5';
    digits.resize(keep);
    digits.insert(digits.begin(), '0');  // room for a carry
    for (std::size_t k = digits.size(); up && k-- > 0;) {
      up = digits[k] == '9';
      digits[k] = up ? '0' : static_cast<char>(digits[k] + 1);
    }
  }
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  std::size_t scale = static_cast<std::size_t>(type.scale);
  if (digits.size() > static_cast<std::size_t>(type.precision)) {
    return refuse(out, shown(value) + " is out of range for " + type.name + " (at most " +
                           std::to_string(type.precision - type.scale) + " integer digits)");
  }
  if (digits.size() <= scale) digits.insert(0, scale + 1 - digits.size(), '0');
  bool zero = digits.find_first_not_of('0') == std::string::npos;
  std::string canonical = (negative && !zero ? "-" : "") + digits.substr(0, digits.size() - scale);
  if (scale) canonical += "." + digits.substr(digits.size() - scale);
  if (canonical == value) return Converted::Same;
  out = std::move(canonical);
  return Converted::Changed;
}

Converted convertFloat(std::string_view value, std::string& out) {
  std::string text(value);
  char* end = nullptr;
  bool plain =
      !text.empty() && (digit(text[0]) || text[0] == '-' || text[0] == '+' || text[0] == '.');
  double d = plain ? std::strtod(text.c_str(), &end) : 0;
  if (!plain || end != text.c_str() + text.size() ||
      text.find_first_of("xXnN") != std::string::npos) {
    return refuse(out, shown(value) + " is not a number");
  }
  if (!std::isfinite(d)) return refuse(out, shown(value) + " is out of range for a float");
  return Converted::Same;
}

Converted convertBoolean(std::string_view value, std::string& out) {
  std::string v;
  for (char c : value) v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const char* truths[] = {"true", "t", "yes", "y", "on", "1"};
  const char* lies[] = {"false", "f", "no", "n", "off", "0"};
  for (const char* t : truths) {
    if (v == t) return value == "1" ? Converted::Same : (out = "1", Converted::Changed);
  }
  for (const char* f : lies) {
    if (v == f) return value == "0" ? Converted::Same : (out = "0", Converted::Changed);
  }
  return refuse(out, shown(value) + " is not a boolean (true or false)");
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard Hinnant's algorithms).
long long daysFromCivil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = static_cast<unsigned>(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}
void civilFromDays(long long z, long long& y, unsigned& m, unsigned& d) {
  z += 719468;
  long long era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<long long>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}
unsigned daysIn(long long y, unsigned m) {
  static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

// Reads `count` digits at `i` into `n`.
bool number(std::string_view v, std::size_t& i, int count, long long& n) {
  n = 0;
  for (int k = 0; k < count; ++k, ++i) {
    if (i >= v.size() || !digit(v[i])) return false;
    n = n * 10 + (v[i] - '0');
  }
  return true;
}

Converted convertTime(const ColumnType& type, std::string_view value, const ValueStyle& style,
                      std::string& out) {
  bool dateOnly = type.kind == ValueKind::Date;
  std::string expected = dateOnly ? "a date (YYYY-MM-DD)"
                         : type.kind == ValueKind::TimestampTz
                             ? "a timestamp with a time zone (ISO 8601: 2024-05-01T12:00:00Z)"
                             : "a timestamp (ISO 8601: 2024-05-01T12:00:00)";
  auto bad = [&](const std::string& why = "") {
    return refuse(out, shown(value) + " is not " + expected + why);
  };
  std::size_t i = 0;
  long long year, month, day, hour = 0, minute = 0, second = 0;
  if (!number(value, i, 4, year) || i >= value.size() || value[i++] != '-' ||
      !number(value, i, 2, month) || i >= value.size() || value[i++] != '-' ||
      !number(value, i, 2, day)) {
    return bad();
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      day > daysIn(year, static_cast<unsigned>(month))) {
    return bad(": no such date");
  }
  if (dateOnly) {
    if (i == value.size()) return Converted::Same;
    // A whole timestamp (`value: now`, a created_at): its date as written, as PostgreSQL's date
    // input takes it.
    ColumnType stamp = type;
    stamp.kind = ValueKind::Timestamp;
    std::string ignored;
    if (convertTime(stamp, value, style, ignored) == Converted::Refused) return bad();
    out = std::string(value.substr(0, 10));
    return Converted::Changed;
  }
  std::string fraction;
  bool zone = false;
  long long offset = 0;  // minutes east of UTC
  if (i < value.size() && (value[i] == 'T' || value[i] == 't' || value[i] == ' ')) {
    ++i;
    if (!number(value, i, 2, hour) || i >= value.size() || value[i++] != ':' ||
        !number(value, i, 2, minute)) {
      return bad();
    }
    if (i < value.size() && value[i] == ':') {
      ++i;
      if (!number(value, i, 2, second)) return bad();
      if (i < value.size() && value[i] == '.') {
        ++i;
        while (i < value.size() && digit(value[i])) fraction += value[i++];
        if (fraction.empty()) return bad();
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return bad(": no such time");
    if (i < value.size() && (value[i] == 'Z' || value[i] == 'z')) {
      zone = true;
      ++i;
    } else if (i < value.size() && (value[i] == '+' || value[i] == '-')) {
      bool minus = value[i++] == '-';
      long long h, m = 0;
      if (!number(value, i, 2, h)) return bad();
      if (i < value.size() && value[i] == ':') ++i;
      if (i < value.size() && !number(value, i, 2, m)) return bad();
      if (h > 15 || m > 59) return bad(": no such time zone offset");
      zone = true;
      offset = (minus ? -1 : 1) * (h * 60 + m);
    }
  }
  if (i != value.size()) return bad();
  if (type.kind == ValueKind::TimestampTz && !zone) {
    return bad(": it has no time zone (add Z or an offset such as +02:00)");
  }
  // Already as stored (GitHub's created_at): nothing to write.
  if (type.kind == ValueKind::TimestampTz && !style.plainTimestamps && offset == 0 &&
      fraction.empty() && value.size() == 20 && value[10] == 'T' && value[19] == 'Z') {
    return Converted::Same;
  }
  // To UTC.
  long long minutes =
      daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 1440 +
      hour * 60 + minute - offset;
  long long days = minutes >= 0 ? minutes / 1440 : (minutes - 1439) / 1440;
  long long rest = minutes - days * 1440;
  long long y;
  unsigned m, d;
  civilFromDays(days, y, m, d);
  if (y < 1 || y > 9999) return bad(": the year is out of range");
  if (fraction.size() > 6) fraction.resize(6);  // microseconds, as the databases keep them
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  char text[64];
  std::snprintf(text, sizeof text, "%04lld-%02u-%02u%c%02lld:%02lld:%02lld", y, m, d,
                style.plainTimestamps ? ' ' : 'T', rest / 60, rest % 60, second);
  std::string canonical = text;
  if (!fraction.empty()) canonical += "." + fraction;
  if (!style.plainTimestamps && type.kind == ValueKind::TimestampTz) canonical += "Z";
  if (canonical == value) return Converted::Same;
  out = std::move(canonical);
  return Converted::Changed;
}

// JSON text that is valid but that a database's JSON type cannot hold the same everywhere: an
// escaped NUL (\u0000: PostgreSQL's jsonb refuses it, it would cut text elsewhere) and an escaped
// surrogate without its pair (no character at all). The reason, or "".
std::string unstorableEscape(std::string_view json) {
  auto hex = [&](std::size_t at) -> long {
    if (at + 4 > json.size()) return -1;
    long v = 0;
    for (std::size_t k = at; k < at + 4; ++k) {
      char c = json[k];
      int d = digit(c)                                 ? c - '0'
              : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                       : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  };
  // Only \u escapes matter: found directly (a record's JSON has many other escapes). A \u after
  // k backslashes is an escape when k is odd (\\u is an escaped backslash and a letter u).
  for (std::size_t i = json.find("\\u"); i != std::string_view::npos; i = json.find("\\u", i + 2)) {
    std::size_t k = 1;
    while (k <= i && json[i - k] == '\\') ++k;
    if (k % 2 == 0) continue;
    long code = hex(i + 2);
    if (code == 0) return "an escaped NUL (\\u0000), which JSON columns cannot store";
    if (code >= 0xDC00 && code <= 0xDFFF) return "an escaped low surrogate without its pair";
    if (code >= 0xD800 && code <= 0xDBFF) {
      long low = i + 7 < json.size() && json[i + 6] == '\\' && json[i + 7] == 'u' ? hex(i + 8) : -1;
      if (low < 0xDC00 || low > 0xDFFF) return "an escaped high surrogate without its pair";
      i += 6;  // the pair's low half is not a lone one
    }
  }
  return {};
}

Converted convertJson(std::string_view value, std::string& out, bool checked) {
  if (!checked) {
    thread_local simdjson::dom::parser parser;
    simdjson::padded_string padded(value.data(), value.size());
    auto error = parser.parse(padded).error();
    if (error) {
      return refuse(out, shown(value) + " is not JSON a database takes (" +
                             simdjson::error_message(error) + ")");
    }
  }
  std::string escape = unstorableEscape(value);
  if (!escape.empty()) return refuse(out, "the JSON holds " + escape);
  return Converted::Same;
}

}  // namespace

ColumnType columnType(const std::string& name) {
  std::string full = lowered(name);
  if (full.size() > 2 && full.compare(full.size() - 2, 2, "[]") == 0) {
    return simple(ValueKind::Unchecked, full.c_str());
  }
  std::string base;
  std::vector<long long> args;
  split(full, base, args);
  if (base.rfind("unsigned") != std::string::npos) base = base.substr(0, base.find(" unsigned"));
  long long n = args.empty() ? 0 : args[0];
  if (base.empty() || base == "text" || base == "longtext" || base == "mediumtext" ||
      base == "tinytext" || base == "clob" || base == "string" || base == "varchar" ||
      base == "character varying" || base == "char" || base == "character" || base == "nvarchar" ||
      base == "nchar" || base == "bpchar") {
    ColumnType t = simple(ValueKind::Text, "text");
    if (n > 0 && base != "text" && base.find("text") == std::string::npos) {
      t.maxChars = static_cast<std::size_t>(n);
      t.name = "varchar(" + std::to_string(n) + ")";
    }
    return t;
  }
  if (base == "boolean" || base == "bool" || (base == "tinyint" && n == 1)) {
    return simple(ValueKind::Boolean, "boolean");
  }
  if (base == "tinyint") return integer("tinyint", -128, 127);
  if (base == "smallint" || base == "int2") return integer("smallint", -32768, 32767);
  if (base == "mediumint") return integer("mediumint", -8388608, 8388607);
  if (base == "integer" || base == "int" || base == "int4" || base == "serial") {
    return integer("integer", INT32_MIN, INT32_MAX);
  }
  if (base == "bigint" || base == "int8" || base == "bigserial") {
    return integer("bigint", INT64_MIN, INT64_MAX);
  }
  if (base == "numeric" || base == "decimal") {
    ColumnType t = simple(ValueKind::Numeric, "numeric");
    t.precision = static_cast<int>(std::clamp(n, 0LL, 1000LL));
    t.scale = args.size() > 1 ? static_cast<int>(std::clamp(args[1], 0LL, 1000LL)) : 0;
    if (t.precision) {
      t.name = "numeric(" + std::to_string(t.precision) + "," + std::to_string(t.scale) + ")";
    }
    return t;
  }
  if (base == "real" || base == "float4" || base == "float")
    return simple(ValueKind::Float, "real");
  if (base == "double precision" || base == "double" || base == "float8") {
    return simple(ValueKind::Float, "double precision");
  }
  if (base == "timestamptz" || base == "timestamp with time zone") {
    return simple(ValueKind::TimestampTz, "timestamptz");
  }
  if (base == "timestamp" || base == "timestamp without time zone" || base == "datetime") {
    return simple(ValueKind::Timestamp, "timestamp");
  }
  if (base == "date") return simple(ValueKind::Date, "date");
  if (base == "json" || base == "jsonb") return simple(ValueKind::Json, base.c_str());
  return simple(ValueKind::Unchecked, full.c_str());
}

Converted convertValue(const ColumnType& type, std::string_view value, const ValueStyle& style,
                       std::string& out, bool jsonChecked) {
  switch (type.kind) {
    case ValueKind::Text:
      return convertText(type, value, out);
    case ValueKind::Integer:
      return convertInteger(type, value, out);
    case ValueKind::Numeric:
      return convertNumeric(type, value, out);
    case ValueKind::Float:
      return convertFloat(value, out);
    case ValueKind::Boolean:
      return convertBoolean(value, out);
    case ValueKind::Timestamp:
    case ValueKind::TimestampTz:
    case ValueKind::Date:
      return convertTime(type, value, style, out);
    case ValueKind::Json:
      return convertJson(value, out, jsonChecked);
    case ValueKind::Unchecked:
      break;
  }
  return Converted::Same;
}

std::vector<ColumnType> declaredColumns(const TableSpec& table) {
  std::vector<ColumnType> out;
  for (const auto& c : table.columns) out.push_back(columnType(c.type));
  return out;
}

std::vector<ColumnType> resolveColumns(const TableSpec& table,
                                       const std::vector<ExistingColumn>& existing,
                                       const SqlDialect& dialect, const std::string& where) {
  auto same = [&](const std::string& a, const std::string& b) {
    return dialect.namesIgnoreCase() ? lowered(a) == lowered(b) : a == b;
  };
  std::vector<ColumnType> out;
  std::string problems;
  auto problem = [&](const std::string& text) {
    problems += (problems.empty() ? "" : "; ") + text;
  };
  for (const auto& c : table.columns) {
    auto found = std::find_if(existing.begin(), existing.end(),
                              [&](const ExistingColumn& e) { return same(e.name, c.name); });
    ColumnType declared = columnType(c.type);
    if (found == existing.end()) {
      problem("column " + c.name + " is not in the table");
      out.push_back(declared);
      continue;
    }
    ColumnType has = dialect.shownType(found->type);
    if (c.type.empty()) {
      out.push_back(has);
      continue;
    }
    if (!dialect.fits(declared, has, found->type)) {
      problem("column " + c.name + " is declared " + c.type + ", the table has " + found->type);
    }
    out.push_back(declared);
  }
  if (!problems.empty()) {
    std::string columns;
    for (const auto& e : existing) columns += (columns.empty() ? "" : ", ") + e.name + " " + e.type;
    throw std::runtime_error("table " + table.name + " in " + where +
                             " does not match its mapping: " + problems +
                             ". The table has: " + columns +
                             ". Change the mapping's type: (or the table, in a migration)");
  }
  return out;
}

}  // namespace sql
