#include "migrations.h"

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <stdexcept>

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

namespace {

// Refuses a statement that begins or ends a transaction, naming the file and line. A trigger's
// body (CREATE TRIGGER ... BEGIN ...; ...; END) holds statements of its own: not control.
void checkTransactions(const Migration& m, Dialect dialect) {
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
          (dialect == Dialect::Postgres
               ? "; for statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY), "
                 "start the file with the line \"-- etlrun: no-transaction\" and make each "
                 "statement safe to run again"
               : ""));
    }
  }
}

// The first word of a statement, upper case.
std::string firstWord(const std::string& statement) {
  std::size_t start = 0;
  while (start < statement.size() && !std::isalpha(static_cast<unsigned char>(statement[start]))) {
    ++start;
  }
  std::string word;
  for (std::size_t i = start;
       i < statement.size() &&
       (std::isalnum(static_cast<unsigned char>(statement[i])) || statement[i] == '_');
       ++i) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(statement[i])));
  }
  return word;
}

// MySQL: a statement that is transaction control on its own (a trigger's or procedure's body is
// inside its CREATE statement, kept whole by DELIMITER).
void checkStatement(const Migration& m, const std::string& statement, std::size_t line,
                    Dialect dialect) {
  static const char* const kControl[] = {"BEGIN", "COMMIT", "END", "ROLLBACK", "START", "ABORT"};
  std::string word = firstWord(statement);
  if (std::find(std::begin(kControl), std::end(kControl), word) != std::end(kControl)) {
    throw std::runtime_error("migration " + m.file + ":" + std::to_string(line) + ": " + word +
                             ": transaction control does not belong in a migration (" +
                             dialectName(dialect) +
                             " runs it statement by statement). Remove it; for a trigger or "
                             "procedure body holding ';', set another delimiter first "
                             "(DELIMITER //), as in the mysql client");
  }
}

// MySQL statements: split at ';', or at the delimiter a "DELIMITER xx" line sets, as the mysql
// client does, so that a trigger or procedure whose body holds ';' stays one statement.
std::vector<std::pair<std::string, std::size_t>> mysqlStatements(const std::string& sql) {
  std::vector<std::pair<std::string, std::size_t>> out;
  std::string delimiter = ";", block;
  std::size_t line = 0, blockStart = 1;
  auto flush = [&] {
    if (delimiter == ";") {
      for (auto& [statement, at] : splitStatements(block)) {
        out.emplace_back(std::move(statement), blockStart + at - 1);
      }
    } else {
      std::size_t from = 0, at;
      while ((at = block.find(delimiter, from)) != std::string::npos || from < block.size()) {
        std::string statement =
            block.substr(from, at == std::string::npos ? std::string::npos : at - from);
        if (statement.find_first_not_of(" \t\r\n") != std::string::npos) {
          std::size_t lead = statement.find_first_not_of(" \t\r\n");
          out.emplace_back(statement.substr(lead),
                           blockStart + static_cast<std::size_t>(std::count(
                                            block.begin(), block.begin() + from + lead, '\n')));
        }
        if (at == std::string::npos) break;
        from = at + delimiter.size();
      }
    }
    block.clear();
  };
  std::size_t pos = 0;
  while (pos <= sql.size()) {
    std::size_t end = sql.find('\n', pos);
    if (end == std::string::npos) end = sql.size();
    std::string text = sql.substr(pos, end - pos);
    ++line;
    std::size_t lead = text.find_first_not_of(" \t");
    if (lead != std::string::npos && text.size() > lead + 10 &&
        firstWord(text.substr(lead)) == "DELIMITER") {
      flush();
      std::string rest = text.substr(lead + 9);
      std::size_t a = rest.find_first_not_of(" \t"), b = rest.find_last_not_of(" \t\r");
      delimiter = a == std::string::npos ? ";" : rest.substr(a, b - a + 1);
      blockStart = line + 1;
    } else {
      block += text + "\n";
    }
    pos = end + 1;
  }
  flush();
  return out;
}

}  // namespace

const char* dialectName(Dialect dialect) {
  switch (dialect) {
    case Dialect::Postgres:
      return "postgresql";
    case Dialect::Sqlite:
      return "sqlite";
    case Dialect::Mysql:
      return "mysql";
  }
  return "?";
}

std::vector<Migration> readMigrations(const std::string& dir, Dialect dialect) {
  std::string folder = dir + "/" + dialectName(dialect);
  Poco::File file(folder);
  if (!file.exists() || !file.isDirectory()) {
    throw std::runtime_error("migrations: " + folder + " does not exist (the " +
                             dialectName(dialect) + " migrations of " + dir + ")");
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
    if (dialect == Dialect::Postgres) {
      migration.noTransaction = migration.statements.rfind("-- etlrun: no-transaction", 0) == 0;
      if (migration.noTransaction) {
        for (auto& [statement, line] : splitStatements(migration.statements)) {
          migration.each.push_back(std::move(statement));
        }
      }
    }
    if (dialect == Dialect::Mysql) {
      // MySQL takes one statement at a time (no multi-statement protocol), and each DDL
      // statement commits by itself: a MySQL migration is run statement by statement.
      for (auto& [statement, line] : mysqlStatements(migration.statements)) {
        checkStatement(migration, statement, line, dialect);
        migration.each.push_back(std::move(statement));
      }
    } else {
      checkTransactions(migration, dialect);
    }
    out.push_back(std::move(migration));
  }
  return out;
}

}  // namespace sql
