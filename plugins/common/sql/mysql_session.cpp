#include "mysql_session.h"

#include <Poco/Data/MySQL/Connector.h>
#include <Poco/Data/MySQL/MySQLException.h>
#include <Poco/Data/MySQL/SessionImpl.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Environment.h>
#include <Poco/Nullable.h>
#include <Poco/URI.h>
#include <strings.h>
// mysql.h defines MYSQL, which ma_pvio.h (the connection's socket layer: its timeouts) needs.
#include <mysql.h>
// clang-format off
#include <ma_pvio.h>
// clang-format on

#include <algorithm>
#include <mutex>
#include <regex>
#include <stdexcept>

#include "etl/errors.h"

namespace sql {
namespace {

// "Rows matched: 3  Changed: 1  Warnings: 0" -> 3 (mysql_info()).
int64_t matchedRows(const std::string& info, int64_t affected) {
  std::size_t at = info.find("Rows matched: ");
  return at == std::string::npos ? affected : std::stoll(info.substr(at + 14));
}

// Errors that may be one row's fault (written again row by row, each row still refused a dead
// letter): a NULL where none may be, a duplicate key, values out of range, too long, of the wrong
// form or charset, a foreign key, a CHECK or JSON constraint, a trigger's SIGNAL, a value the
// server cannot compute (division by zero, overflow).
bool mayBeTheRows(unsigned code) {
  static const unsigned kRowErrors[] = {
      1048,  // column cannot be null
      1062,  // duplicate entry
      1586,  // duplicate entry (for key)
      1138,  // invalid use of NULL
      1264,  // out of range
      1265,  // data truncated
      1292,  // incorrect datetime/double/... value
      1300,  // invalid utf8 string
      1364,  // field has no default value
      1365,  // division by 0
      1366,  // incorrect (integer, string ...) value
      1367,  // illegal value during parsing
      1406,  // data too long
      1411,  // incorrect value for a function
      1416,  // cannot get geometry object
      1451,  // a row still referenced (foreign key)
      1452,  // no parent row (foreign key)
      1644,  // SIGNAL in a trigger
      1690,  // value out of range in an expression
      3140,  // invalid JSON text (MySQL)
      3819,  // check constraint violated (MySQL)
      4025,  // CONSTRAINT failed (MariaDB: CHECK, JSON_VALID)
      4078,  // illegal parameter data type
      1918,  // encountered illegal value when converting
      1178,  // the storage engine does not support this (row too large in some engines)
      1118,  // row size too large
  };
  return std::find(std::begin(kRowErrors), std::end(kRowErrors), code) != std::end(kRowErrors);
}

// The connection is gone or the server cannot take it now: reconnect and retry later.
bool isOutage(unsigned code) {
  static const unsigned kOutages[] = {
      2002, 2003, 2005, 2006, 2011, 2013, 2026, 2055,  // client: cannot reach, gone, lost
      1040,                                            // too many connections
      1053,                                            // server shutdown in progress
      1927,                                            // connection was killed
      1152, 1153, 1158, 1159, 1160, 1161,              // aborted connection, packet errors
      1290,                                            // --read-only (a failover in progress)
      1836,                                            // running in read-only mode
  };
  return std::find(std::begin(kOutages), std::end(kOutages), code) != std::end(kOutages);
}

// What to tell an operator for a refusal that waiting cannot cure.
std::string hintFor(unsigned code) {
  switch (code) {
    case 1044:  // MySQL says so for a database that does not exist too, unless the user may see all
      return "the database does not exist or the user may not use it: create the database "
             "(CREATE DATABASE name), or GRANT ALL ON name.* TO the user";
    case 1045:
    case 1698:
      return "check the user and the password (MYSQL_PWD, or the connection's password) and the "
             "user's grants (CREATE USER ... IDENTIFIED BY ...; GRANT ALL ON db.* TO ...)";
    case 1049:
      return "create the database (CREATE DATABASE name), or fix its name in the connection";
    default:
      return "";
  }
}

std::string percentDecoded(const std::string& text) {
  std::string out;
  Poco::URI::decode(text, out);
  return out;
}

// Poco (1.11) throws ConnectionFailedException(mysql_error()) for a failed connect, without the
// error's number; the handle is gone by then. The number is told by the client's message texts.
unsigned connectErrorCode(const std::string& message) {
  if (message.find("Access denied for user") != std::string::npos) {
    return message.find("to database") != std::string::npos ? 1044 : 1045;
  }
  if (message.find("Unknown database") != std::string::npos) return 1049;
  if (message.find("Can't connect") != std::string::npos) return 2003;
  if (message.find("Unknown server host") != std::string::npos ||
      message.find("Unknown MySQL server host") != std::string::npos) {
    return 2005;
  }
  if (message.find("Too many connections") != std::string::npos) return 1040;
  return 2013;  // anything else while connecting is taken as an outage
}

std::once_flag registered;

}  // namespace

bool isMysqlUri(const std::string& uri) {
  return uri.rfind("mysql://", 0) == 0 || uri.rfind("mariadb://", 0) == 0;
}

MysqlConnection parseMysqlUri(const std::string& uri) {
  std::size_t scheme = uri.find("://");
  std::string rest = uri.substr(scheme + 3);
  const std::string expected = " (expected mysql://user[:password]@host[:port]/db)";
  std::string query;
  if (std::size_t q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.erase(q);
  }
  MysqlConnection c;
  std::size_t at = rest.rfind('@');
  if (at == std::string::npos) {
    throw std::runtime_error("the database connection names no user" + expected);
  }
  std::string credentials = rest.substr(0, at);
  rest.erase(0, at + 1);
  std::size_t colon = credentials.find(':');
  c.user = percentDecoded(credentials.substr(0, colon));
  if (colon != std::string::npos) c.password = percentDecoded(credentials.substr(colon + 1));
  std::size_t slash = rest.find('/');
  std::string hostPort = rest.substr(0, slash);
  c.database = slash == std::string::npos ? "" : percentDecoded(rest.substr(slash + 1));
  if (std::size_t p = hostPort.rfind(':'); p != std::string::npos && hostPort.back() != ']') {
    std::string port = hostPort.substr(p + 1);
    hostPort.erase(p);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
        std::stoul(port) > 65535) {
      throw std::runtime_error("the database connection's port is not a number from 1 to 65535" +
                               expected);
    }
    c.port = static_cast<unsigned>(std::stoul(port));
  }
  c.host = hostPort.empty() ? "localhost" : hostPort;
  if (c.host.size() > 2 && c.host.front() == '[') c.host = c.host.substr(1, c.host.size() - 2);
  if (c.user.empty()) throw std::runtime_error("the database connection names no user" + expected);
  if (c.database.empty()) {
    throw std::runtime_error("the database connection names no database" + expected);
  }
  for (const std::string& option : {query}) {
    if (option.empty()) continue;
    // Poco::Data's MySQL session connects in its constructor from host, port, user, password
    // and db only: it has no way to name a Unix socket (host "localhost" uses the client's
    // default socket).
    throw std::runtime_error(
        "the database connection's options (" + option.substr(0, option.find('=')) +
        ") are not supported: Poco::Data's MySQL connector connects by host and port only " +
        "(localhost: the server's default socket)");
  }
  std::string password = Poco::Environment::get("MYSQL_PWD", "");
  if (!password.empty()) c.password = password;
  // Poco parses its connection string at ';' without any quoting.
  for (const std::string* part : {&c.user, &c.password, &c.database, &c.host}) {
    if (part->find(';') != std::string::npos) {
      throw std::runtime_error(std::string("the database connection's ") +
                               (part == &c.password ? "password" : "user, host or database") +
                               " holds a ';', which Poco::Data's MySQL connector cannot pass");
    }
  }
  c.description = uri.substr(0, scheme) + "://" + c.user + "@" + c.host + ":" +
                  std::to_string(c.port) + "/" + c.database;
  return c;
}

MysqlSession::MysqlSession(std::string uri) : uri_(std::move(uri)) {}

MysqlSession::~MysqlSession() {
  disconnect();
}

std::string MysqlSession::describe() const {
  return connection_ ? connection_->description : "MySQL";
}

void MysqlSession::disconnect() {
  session_.reset();
}

MYSQL* MysqlSession::handle() {
  return static_cast<Poco::Data::MySQL::SessionImpl*>(session_->impl())->handle();
}

void MysqlSession::connect() {
  disconnect();
  std::call_once(registered, [] { Poco::Data::MySQL::Connector::registerConnector(); });
  // Parsed here, not at construction: a mistake fails the pipeline (exit 70) with a message, and
  // the environment (MYSQL_PWD) is read when the connection is made.
  if (!connection_) connection_ = parseMysqlUri(uri_);
  const MysqlConnection& c = *connection_;
  std::string settings = "host=" + c.host + ";port=" + std::to_string(c.port) + ";user=" + c.user +
                         ";password=" + c.password + ";db=" + c.database + ";character-set=utf8mb4";
  const std::size_t connectTimeout = 10;  // seconds: the handshake's reads too (Connector/C)
  try {
    session_ = std::make_unique<Poco::Data::Session>("MySQL", settings, connectTimeout);
  } catch (const Poco::Exception& e) {
    // Poco's message is the client's (mysql_error), which never holds the password; it is
    // scrubbed all the same, and the connection string is never shown.
    std::string message = e.message();
    for (std::size_t pos;
         !c.password.empty() && (pos = message.find(c.password)) != std::string::npos;) {
      message.replace(pos, c.password.size(), "<redacted>");
    }
    unsigned code = connectErrorCode(message);
    std::string what = "cannot connect to " + describe() + ": " + message;
    std::string hint = hintFor(code);
    if (!hint.empty()) throw std::runtime_error(what + " (" + hint + ")");
    throw etl::RetryableError(what);
  }
  try {
    // Poco (1.11) offers no read/write timeout before it connects (its setConnectionTimeout sets
    // the options of a handle that is connected already, which Connector/C reads only when it
    // connects): they are set on the connection's socket layer now, as Connector/C itself does
    // at the end of connecting.
    MYSQL* h = handle();
    unsigned seconds =
        static_cast<unsigned>(std::max<int64_t>(1, (answerTimeout_.count() + 999) / 1000));
    mysql_options(h, MYSQL_OPT_READ_TIMEOUT, &seconds);
    mysql_options(h, MYSQL_OPT_WRITE_TIMEOUT, &seconds);
    MARIADB_PVIO* pvio = h->net.pvio;  // public in mariadb_com.h: the connection's socket layer
    if (answerTimeout_.count() > 0 && pvio && pvio->methods && pvio->methods->set_timeout) {
      pvio->methods->set_timeout(pvio, PVIO_READ_TIMEOUT, static_cast<int>(seconds));
      pvio->methods->set_timeout(pvio, PVIO_WRITE_TIMEOUT, static_cast<int>(seconds));
    }
    // Strict: a value that does not fit is refused, never cut or zeroed (STRICT_ALL_TABLES also
    // for a non-transactional table); ANSI_QUOTES: "name" is a name, as in the SQL written once
    // for every dialect (database.cpp); times in UTC.
    query(
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
        "ERROR_FOR_DIVISION_BY_ZERO,ANSI_QUOTES,NO_ENGINE_SUBSTITUTION,NO_AUTO_CREATE_USER', "
        "time_zone = '+00:00', NAMES utf8mb4");
    if (auto packet = value("SELECT @@max_allowed_packet")) maxPacket_ = std::stoull(*packet);
  } catch (...) {
    disconnect();
    throw;
  }
}

void MysqlSession::fail(unsigned code, const std::string& sqlstate, const std::string& message,
                        const std::string& what) {
  std::string text = message;
  if (connection_ && !connection_->password.empty()) {
    for (std::size_t pos; (pos = text.find(connection_->password)) != std::string::npos;) {
      text.replace(pos, connection_->password.size(), "<redacted>");
    }
  }
  std::string full = text + " [MySQL error " + std::to_string(code) +
                     (sqlstate.empty() ? "" : ", SQLSTATE " + sqlstate) + "]";
  if (code == 1205 || code == 1213) throw LockConflict(full);
  // 2000-2999: the client library's own errors (the connection failed, was lost, ...).
  if (code == 0 || (code >= 2000 && code < 3000) || isOutage(code)) {
    std::string server = describe();
    disconnect();  // reconnect next time
    throw etl::RetryableError(what + " on " + server + ": " + full);
  }
  std::string hint = hintFor(code);
  if (!hint.empty())
    throw std::runtime_error(what + " on " + describe() + ": " + full + " (" + hint + ")");
  if (mayBeTheRows(code)) throw DataError(full, sqlstate);
  throw std::runtime_error(what + ": " + full);
}

int64_t MysqlSession::run(const std::string& statement, const std::vector<Value>& values) {
  return run(statement, values, {});
}

int64_t MysqlSession::run(const std::string& statement, const std::vector<Value>& values,
                          const std::vector<bool>& binary) {
  if (!session_) connect();
  // The bindings keep references: both vectors are sized once, before any is made.
  std::vector<Poco::Nullable<std::string>> texts(values.size());
  std::vector<Poco::Nullable<Poco::Data::BLOB>> blobs(values.size());
  Poco::Data::Statement st(*session_);
  st << statement;
  for (std::size_t i = 0; i < values.size(); ++i) {
    bool isBlob = i < binary.size() && binary[i];
    if (isBlob) {
      if (values[i]) {
        blobs[i] = Poco::Data::BLOB(reinterpret_cast<const unsigned char*>(values[i]->data()),
                                    values[i]->size());
      }
      st, Poco::Data::Keywords::use(blobs[i]);
    } else {
      if (values[i]) texts[i] = std::string(*values[i]);
      st, Poco::Data::Keywords::use(texts[i]);
    }
  }
  try {
    return counted(statement, static_cast<int64_t>(st.execute()));
  } catch (const Poco::Data::MySQL::StatementException& e) {
    // Poco's message holds the whole statement text (megabytes for a bulk INSERT): only the
    // server's error is kept.
    static const std::regex error("\\[mysql_stmt_error\\]: ([^\\t]*)");
    static const std::regex state("\\[mysql_stmt_sqlstate\\]: ([0-9A-Z]{5})");
    std::smatch m;
    std::string text = e.message();
    std::string message = std::regex_search(text, m, error) ? m[1].str() : "";
    std::string sqlstate = std::regex_search(text, m, state) ? m[1].str() : "";
    unsigned code = static_cast<unsigned>(e.code());
    if (code == 0 && session_) {
      code = mysql_errno(handle());
      if (message.empty()) message = mysql_error(handle());
    }
    if (message.empty()) message = text.substr(0, text.find("[statemnt]"));
    fail(code, sqlstate, message, statement.substr(0, 60));
  } catch (const Poco::Exception& e) {
    unsigned code = session_ ? mysql_errno(handle()) : 2013;
    std::string message = e.message();
    fail(code, "", message.substr(0, message.find("[statemnt]")), statement.substr(0, 60));
  }
}

int64_t MysqlSession::runText(const std::string& statement) {
  query(statement);
  auto changed = mysql_affected_rows(handle());
  return counted(statement,
                 changed == static_cast<decltype(changed)>(-1) ? 0 : static_cast<int64_t>(changed));
}

int64_t MysqlSession::counted(const std::string& statement, int64_t affected) {
  std::size_t start = statement.find_first_not_of(" \t\r\n(");
  if (start == std::string::npos || strncasecmp(statement.c_str() + start, "UPDATE", 6) != 0) {
    return affected;
  }
  return matchedRows(info(), affected);
}

std::string MysqlSession::info() {
  const char* text = session_ ? mysql_info(handle()) : nullptr;
  return text ? text : "";
}

std::string MysqlSession::literal(std::string_view value) {
  std::string out(value.size() * 2 + 3, '\0');
  out[0] = '\'';
  unsigned long n = mysql_real_escape_string(handle(), out.data() + 1, value.data(),
                                             static_cast<unsigned long>(value.size()));
  out.resize(n + 1);
  out += '\'';
  return out;
}

std::vector<MysqlSession::Row> MysqlSession::query(const std::string& statement,
                                                   const std::vector<Value>& values) {
  if (!session_) connect();
  std::string text;
  if (values.empty()) {
    text = statement;
  } else {
    // Each ? outside quotes becomes its value as an escaped literal (NUL bytes and all).
    std::size_t next = 0;
    char quote = 0;
    for (char c : statement) {
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"' || c == '`') {
        quote = c;
      } else if (c == '?' && next < values.size()) {
        const Value& v = values[next++];
        text += v ? literal(*v) : std::string("NULL");
        continue;
      }
      text += c;
    }
  }
  MYSQL* h = handle();
  if (mysql_real_query(h, text.data(), static_cast<unsigned long>(text.size())) != 0) {
    fail(mysql_errno(h), mysql_sqlstate(h), mysql_error(h), statement.substr(0, 60));
  }
  std::vector<Row> rows;
  MYSQL_RES* result = mysql_store_result(h);
  if (!result) {
    if (mysql_field_count(h) != 0) {
      fail(mysql_errno(h), mysql_sqlstate(h), mysql_error(h), statement.substr(0, 60));
    }
    return rows;
  }
  unsigned columns = mysql_num_fields(result);
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    unsigned long* lengths = mysql_fetch_lengths(result);
    Row out(columns);
    for (unsigned c = 0; c < columns; ++c) {
      if (row[c]) out[c] = std::string(row[c], lengths[c]);
    }
    rows.push_back(std::move(out));
  }
  mysql_free_result(result);
  return rows;
}

std::optional<std::string> MysqlSession::value(const std::string& statement,
                                               const std::vector<Value>& values) {
  auto rows = query(statement, values);
  if (rows.empty() || rows[0].empty()) return std::nullopt;
  return rows[0][0];
}

void MysqlSession::rollback() {
  if (!session_) return;
  try {
    query("ROLLBACK");
  } catch (const std::exception&) {
  }
}

}  // namespace sql
