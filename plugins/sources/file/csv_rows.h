// CSV and TSV rows (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes) into JSON
// objects, one line of a file at a time, parsed by libcsv. A row may span lines: the source
// checkpoints only where a row ends, so a restart never begins inside a quoted field.
#pragma once

#include <csv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace etl_file {

struct CsvOptions {
  char delimiter = ',';
  // The names of the columns, in order; empty: the file's first row names them.
  std::vector<std::string> columns;
  bool skipFirstRow = false;     // with columns: the file's first row is a header, not data
  uint64_t maxBytes = 16 << 20;  // a row of more bytes (an unclosed quote) is given up on
};

class CsvRows {
 public:
  enum class Outcome {
    Pending,  // inside a row that goes on on the next line
    Header,   // the file's first row: it named the columns, or was skipped
    Row,      // a row: `json` holds it as an object of strings
    Bad,      // a row that cannot be one: `reason` says why; the next line starts anew
    Blank,    // an empty line between rows
  };

  explicit CsvRows(CsvOptions options);
  ~CsvRows();
  CsvRows(const CsvRows&) = delete;
  CsvRows& operator=(const CsvRows&) = delete;

  // One line of the file, without its line break.
  Outcome add(std::string_view line, std::string& json, std::string& reason);
  // At the end of the file: Bad when a row was left open (an unclosed quote), else Blank.
  Outcome finish(std::string& reason);
  // Forgets the row in progress (a line too long to keep cut it).
  void reset();

  bool inRow() const { return !raw_.empty(); }
  const std::string& raw() const { return raw_; }  // the row's lines so far, joined by '\n'
  // The lines of the row add() or finish() ended last (a dead letter keeps them).
  const std::string& lastRow() const { return lastRow_; }
  // No row may be the header any more (reading resumes inside a file whose header is known).
  void pastHeader() { header_ = skip_ = false; }

 private:
  static void onField(void* data, std::size_t size, void* self);
  static void onRowEnd(int terminator, void* self);
  Outcome complete(std::string& json, std::string& reason);

  CsvOptions options_;
  csv_parser parser_{};
  std::vector<std::string> columns_;
  std::vector<std::string> fields_;  // of the row being parsed
  std::string raw_, lastRow_;
  bool ended_ = false;  // libcsv ended a row during the last add()
  bool header_;         // the next complete row is the header
  bool skip_;           // the next complete row is a header to skip
};

// `text` as a JSON string literal (quotes included); `text` must be valid UTF-8.
std::string jsonQuoted(std::string_view text);

}  // namespace etl_file
