#include "csv_rows.h"

#include <set>
#include <stdexcept>

#include "etl/text.h"

namespace etl_file {

namespace {

// libcsv's parser states (libcsv.c): a row has not begun once the last one ended.
constexpr int kRowNotBegun = 0;

}  // namespace

std::string jsonQuoted(std::string_view text) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

CsvRows::CsvRows(CsvOptions options)
    : options_(std::move(options)),
      columns_(options_.columns),
      header_(columns_.empty()),
      skip_(!header_ && options_.skipFirstRow) {
  // Strict: a quote inside an unquoted field or after a closing quote is a mistake, not data.
  if (csv_init(&parser_, CSV_STRICT | CSV_STRICT_FINI) != 0) throw std::bad_alloc();
  csv_set_delim(&parser_, static_cast<unsigned char>(options_.delimiter));
}

CsvRows::~CsvRows() {
  csv_free(&parser_);
}

void CsvRows::onField(void* data, std::size_t size, void* self) {
  auto* rows = static_cast<CsvRows*>(self);
  rows->fields_.emplace_back(data ? static_cast<const char*>(data) : "", data ? size : 0);
}

void CsvRows::onRowEnd(int, void* self) {
  static_cast<CsvRows*>(self)->ended_ = true;
}

void CsvRows::reset() {
  csv_free(&parser_);
  csv_init(&parser_, CSV_STRICT | CSV_STRICT_FINI);
  csv_set_delim(&parser_, static_cast<unsigned char>(options_.delimiter));
  fields_.clear();
  raw_.clear();
  ended_ = false;
}

CsvRows::Outcome CsvRows::add(std::string_view line, std::string& json, std::string& reason) {
  if (raw_.empty() && line.find_first_not_of(" \t\r") == std::string_view::npos) {
    return Outcome::Blank;
  }
  if (!raw_.empty()) raw_ += '\n';
  raw_.append(line);
  if (raw_.size() > options_.maxBytes) {
    reason = "a row longer than max_record_bytes (" + std::to_string(options_.maxBytes) +
             " bytes): a quote that is never closed?";
    lastRow_ = raw_.substr(0, 1024);
    reset();
    return Outcome::Bad;
  }
  ended_ = false;
  std::size_t fed = csv_parse(&parser_, line.data(), line.size(), onField, onRowEnd, this);
  if (fed == line.size()) fed += csv_parse(&parser_, "\n", 1, onField, onRowEnd, this);
  if (fed != line.size() + 1) {
    reason = std::string("not CSV: ") + csv_strerror(csv_error(&parser_)) +
             " (a quote inside an unquoted field, or text after a closing quote)";
    lastRow_ = std::move(raw_);
    reset();
    return Outcome::Bad;
  }
  if (!ended_ || parser_.pstate != kRowNotBegun) return Outcome::Pending;  // inside quotes
  return complete(json, reason);
}

CsvRows::Outcome CsvRows::complete(std::string& json, std::string& reason) {
  std::vector<std::string> fields;
  fields.swap(fields_);
  lastRow_ = std::move(raw_);
  raw_.clear();
  for (const auto& f : fields) {
    if (!etl::isStorableText(f)) {
      reason =
          "a field is not valid UTF-8 text (convert the file first, e.g. iconv -f latin1 "
          "-t utf-8)";
      return Outcome::Bad;
    }
  }
  if (skip_) {
    skip_ = false;
    return Outcome::Header;
  }
  if (header_) {
    std::set<std::string> seen;
    for (const auto& name : fields) {
      if (name.empty() || !seen.insert(name).second) {
        reason = "the header names a column " +
                 (name.empty() ? std::string("with no name") : "twice ('" + name + "')");
        return Outcome::Bad;
      }
    }
    columns_ = std::move(fields);
    header_ = false;
    return Outcome::Header;
  }
  if (fields.size() != columns_.size()) {
    reason = "a row of " + std::to_string(fields.size()) + " field(s) where there are " +
             std::to_string(columns_.size()) + " column(s)";
    return Outcome::Bad;
  }
  json = "{";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    json += (i ? "," : "") + jsonQuoted(columns_[i]) + ":" + jsonQuoted(fields[i]);
  }
  json += "}";
  return Outcome::Row;
}

CsvRows::Outcome CsvRows::finish(std::string& reason) {
  if (raw_.empty()) return Outcome::Blank;
  reason = "the file ends inside a quoted field";
  lastRow_ = std::move(raw_);
  reset();
  return Outcome::Bad;
}

}  // namespace etl_file
