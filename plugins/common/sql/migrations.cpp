#include "migrations.h"

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <stdexcept>

#include "dialects.h"
#include "etl/files.h"

namespace sql {

std::vector<std::pair<std::string, std::size_t>> splitStatements(const std::string& sql) {
  std::vector<std::pair<std::string, std::size_t>> out;
  std::string current;
  std::size_t line = 1, startLine = 0;
  int atomic = 0;  // open BEGIN ATOMIC bodies (SQL-standard function bodies)
  auto upperWords = [](const std::string& text) {
    std::string words;
    for (char c : text) {
      words += std::isalnum(static_cast<unsigned char>(c)) || c == '_'
                   ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                   : ' ';
    }
    return " " + words + " ";
  };
  auto finish = [&] {
    std::string words = upperWords(current);
    std::size_t first = words.find_first_not_of(' ');
    if (first != std::string::npos) {
      if (words.find(" BEGIN ATOMIC ") != std::string::npos) ++atomic;
      if (atomic > 0 && words.compare(first, 4, "END ") == 0) {
        --atomic;
        if (atomic == 0) {
          out.back().first += current;  // the body's end belongs to its statement
          current.clear();
          return;
        }
      }
      if (atomic > 0 && !out.empty() && words.find(" BEGIN ATOMIC ") == std::string::npos) {
        out.back().first += current;
      } else {
        out.emplace_back(current, startLine);
      }
    }
    current.clear();
    startLine = 0;
  };
  for (std::size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\n') ++line;
    if (!startLine && !std::isspace(static_cast<unsigned char>(c))) startLine = line;
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {  // a comment to the line's end
      std::size_t end = sql.find('\n', i);
      if (end == std::string::npos) end = sql.size();
      if (startLine == line && current.find_first_not_of(" \t\r\n") == std::string::npos)
        startLine = 0;
      i = end - 1;
      continue;
    }
    if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      std::size_t end = sql.find("*/", i + 2);
      end = end == std::string::npos ? sql.size() : end + 2;
      line += static_cast<std::size_t>(std::count(sql.begin() + i, sql.begin() + end, '\n'));
      if (current.find_first_not_of(" \t\r\n") == std::string::npos) startLine = 0;
      i = end - 1;
      continue;
    }
    if (c == '\'' || c == '"') {  // a string or a quoted name ('' and "" stay inside)
      std::size_t end = i + 1;
      while (end < sql.size() && sql[end] != c) ++end;
      end = std::min(end + 1, sql.size());
      line += static_cast<std::size_t>(std::count(sql.begin() + i + 1, sql.begin() + end, '\n'));
      current.append(sql, i, end - i);
      i = end - 1;
      continue;
    }
    if (c == '$') {  // $$ ... $$ or $tag$ ... $tag$
      std::size_t close = i + 1;
      while (close < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[close])) || sql[close] == '_')) {
        ++close;
      }
      if (close < sql.size() && sql[close] == '$' &&
          (close == i + 1 || !std::isdigit(static_cast<unsigned char>(sql[i + 1])))) {
        std::string tag = sql.substr(i, close - i + 1);
        std::size_t end = sql.find(tag, close + 1);
        end = end == std::string::npos ? sql.size() : end + tag.size();
        line += static_cast<std::size_t>(std::count(sql.begin() + i, sql.begin() + end, '\n'));
        current.append(sql, i, end - i);
        i = end - 1;
        continue;
      }
    }
    if (c == ';') {
      finish();
      continue;
    }
    current += c;
  }
  finish();
  return out;
}

void checkTransactions(const Migration& m, const std::string& hint) {
  bool inTrigger = false;
  for (const auto& [statement, line] : splitStatements(m.statements)) {
    std::string words = " ";
    for (char c : statement) {
      words += std::isalnum(static_cast<unsigned char>(c)) || c == '_'
                   ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                   : ' ';
    }
    words += " ";
    std::size_t start = words.find_first_not_of(' ');
    std::string word =
        start == std::string::npos ? "" : words.substr(start, words.find(' ', start) - start);
    if (inTrigger) {
      if (word == "END") inTrigger = false;
      continue;
    }
    if (word == "CREATE" && words.find(" TRIGGER ") != std::string::npos &&
        words.find(" BEGIN ") != std::string::npos) {
      inTrigger = true;
      continue;
    }
    static const char* const kControl[] = {"BEGIN", "COMMIT", "END", "ROLLBACK", "START", "ABORT"};
    if (std::find(std::begin(kControl), std::end(kControl), word) != std::end(kControl)) {
      throw std::runtime_error(
          "migration " + m.file + ":" + std::to_string(line) + ": " + word +
          ": each migration runs in a transaction of its own (its COMMIT would keep half of it, "
          "and the rest would run again at the next start). Remove it" +
          hint);
    }
  }
}

std::vector<Migration> readMigrations(const std::string& dir, const SqlDialect& dialect) {
  std::string folder = dir + "/" + dialect.name();
  Poco::File file(folder);
  if (!file.exists() || !file.isDirectory()) {
    throw std::runtime_error("migrations: " + folder + " does not exist (the " + dialect.name() +
                             " migrations of " + dir + ")");
  }
  static const std::regex name("([0-9]+)_([A-Za-z0-9_.-]+)\\.sql");
  std::map<int, Migration> byVersion;
  for (Poco::DirectoryIterator it(file), end; it != end; ++it) {
    std::smatch m;
    const std::string base = it.name();
    if (it->isDirectory() || base.size() < 4 || base.compare(base.size() - 4, 4, ".sql") != 0) {
      continue;
    }
    if (!std::regex_match(base, m, name)) {
      throw std::runtime_error("migrations: " + it.path().toString() +
                               " is not named VERSION_NAME.sql (e.g. 001_create_tables.sql)");
    }
    int version = std::stoi(m[1]);
    if (byVersion.count(version)) {
      throw std::runtime_error("migrations: " + it.path().toString() + " and " +
                               byVersion[version].file + " have the same version " +
                               std::to_string(version));
    }
    Migration& found = byVersion[version];
    found.version = version;
    found.name = m[2];
    found.file = it.path().toString();
    found.statements = etl::readFileIfExists(found.file).value_or("");
  }
  std::vector<Migration> out;
  for (auto& [version, migration] : byVersion) {
    dialect.readMigration(migration);
    out.push_back(std::move(migration));
  }
  return out;
}

}  // namespace sql
