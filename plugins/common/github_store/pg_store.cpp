// PostgreSQL store on libpq: connection settings parsed by libpq itself, the bulk path is COPY. A
// batch is COPY'd into temp tables, then INSERT ... ON CONFLICT DO NOTHING into the real ones, with
// dead letters and the checkpoint, in one transaction. If the database refuses a row (a data
// error), the batch is redone row by row with savepoints and the refused rows become dead letters:
// one bad record never blocks the rest.
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <regex>
#include <set>

#include "connection_string.h"
#include "etl/errors.h"
#include "migrations.h"
#include "store.h"

namespace store {
namespace {

using sql::Connection;
using sql::parseConnection;
using sql::scrub;

constexpr long long kMigrationLock = 7283764101LL;  // pg_advisory_lock key for migrations

// A row the database refused because of its data (SQLSTATE classes 22 and 23).
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Result {
  PGresult* result = nullptr;
  explicit Result(PGresult* r) : result(r) {}
  ~Result() {
    if (result) PQclear(result);
  }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
};

bool copySafe(const std::string& text) {
  for (unsigned char c : text) {
    if (c == 0 || c == 1 || c == 2 || c == 3 || c == '\n' || c == '\r') return false;
  }
  return true;
}

void field(std::string& out, const std::string& value) {
  out += value;
}
void field(std::string& out, const std::optional<std::string>& value) {
  if (value) {
    out += *value;
  } else {
    out.push_back('\x03');
  }
}
void field(std::string& out, int64_t value) {
  out += std::to_string(value);
}
void field(std::string& out, const std::optional<int64_t>& value) {
  if (value) {
    out += std::to_string(*value);
  } else {
    out.push_back('\x03');
  }
}

template <class T, class... Rest>
void csvRow(std::string& out, const T& first, const Rest&... rest) {
  field(out, first);
  ((out.push_back('\x02'), field(out, rest)), ...);
  out.push_back('\n');
}

std::optional<std::string> text(const std::optional<int64_t>& v) {
  return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}

// A statement parameter: text (NULL when empty), or bytes sent in binary format (bytea).
struct Param {
  std::optional<std::string> value;
  bool binary = false;
  Param(std::optional<std::string> v) : value(std::move(v)) {}  // NOLINT: implicit on purpose
  Param(std::string v) : value(std::move(v)) {}                 // NOLINT
  Param(const char* v) : value(std::string(v)) {}               // NOLINT
  static Param bytes(std::optional<std::string> v) {
    Param p(std::move(v));
    p.binary = true;
    return p;
  }
};

// What to tell an operator for a connection the server refused for good (SQLSTATE class 28:
// authentication; 3D000: no such database).
std::string hintFor(const std::string& state) {
  if (state.rfind("28", 0) == 0) {
    return "check the user and the password (PGPASSWORD, password_env, or the connection's "
           "password) and pg_hba.conf";
  }
  if (state == "3D000") return "create the database, or fix dbname in the connection";
  return "";
}

// "FATAL:  28P01: password authentication failed ..." (verbose libpq errors) -> "28P01".
std::string sqlstateIn(const std::string& message) {
  static const std::regex state("(FATAL|ERROR|PANIC):  ([0-9A-Z]{5}): ");
  std::smatch m;
  return std::regex_search(message, m, state) ? m[2].str() : std::string();
}

class PgStore : public Store {
 public:
  PgStore(std::string connection, std::string passwordEnv, Poco::Logger& logger)
      : text_(std::move(connection)), passwordEnv_(std::move(passwordEnv)), logger_(logger) {}
  ~PgStore() override { disconnect(); }

  std::string describe() const override {
    return connection_ ? connection_->description : "PostgreSQL";
  }

  void open() override {
    if (pg_ && PQstatus(pg_) == CONNECTION_OK) return;
    disconnect();
    // Parsed here, not at construction: a mistake fails this pipeline (exit 70) with a message,
    // and the environment is read when the connection is made.
    if (!connection_) connection_ = parseConnection(text_, passwordEnv_);
    connect();
    try {
      prepareSession();
    } catch (...) {
      // All or nothing: a session without its temp tables must not look usable next time.
      disconnect();
      throw;
    }
    logger_.information("connected to " + connection_->description);
  }

 private:
  void disconnect() {
    if (pg_) PQfinish(pg_);
    pg_ = nullptr;
  }

  // Connects with libpq's own parameters. A refusal that waiting cannot cure (wrong password, no
  // such database, a password needed and none given) is permanent; the rest (server down,
  // starting up, too many connections, network) is retried by the runner.
  void connect() {
    std::vector<const char*> keys, values;
    int timeoutSeconds = 10;
    for (std::size_t i = 0; i < connection_->keywords.size(); ++i) {
      keys.push_back(connection_->keywords[i].c_str());
      values.push_back(connection_->values[i].c_str());
      if (connection_->keywords[i] == "connect_timeout") {
        timeoutSeconds = std::max(2, std::atoi(connection_->values[i].c_str()));
      }
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    pg_ = PQconnectStartParams(keys.data(), values.data(), 0);
    if (!pg_) throw etl::RetryableError("cannot connect to " + describe() + ": out of memory");
    // Verbose errors carry the server's SQLSTATE, which tells a refusal from an outage.
    PQsetErrorVerbosity(pg_, PQERRORS_VERBOSE);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (PQstatus(pg_) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
           state != PGRES_POLLING_FAILED) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) {
        disconnect();
        throw etl::RetryableError("cannot connect to " + describe() + ": timed out after " +
                                  std::to_string(timeoutSeconds) + " s");
      }
      pollfd fd{PQsocket(pg_),
                static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
      if (::poll(&fd, 1, static_cast<int>(std::min<int64_t>(left, 1000))) == 0) continue;
      state = PQconnectPoll(pg_);
    }
    if (PQstatus(pg_) == CONNECTION_OK) {
      PQsetErrorVerbosity(pg_, PQERRORS_DEFAULT);
      return;
    }
    std::string message = scrub(PQerrorMessage(pg_), *connection_);
    bool needsPassword = PQconnectionNeedsPassword(pg_);
    disconnect();
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    std::string sqlstate = sqlstateIn(message);
    std::string hint = hintFor(sqlstate);
    if (needsPassword) hint = "the server asks for a password and none was given: " + hintFor("28");
    std::string what = "cannot connect to " + describe() + ": " + message;
    if (!hint.empty()) throw std::runtime_error(what + " (" + hint + ")");
    throw etl::RetryableError(what);
  }

 private:
  void prepareSession() {
    // lz4 compresses the large jsonb values about twice as fast as the default pglz, and that
    // compression is the single backend's main cost per event. Servers built without lz4 keep pglz.
    PQclear(PQexec(pg_, "SET default_toast_compression = 'lz4'"));
    if (!migrated_) migrate();
    exec(R"(CREATE TEMP TABLE etl_stage_events (
              event_id text, type text, actor_id bigint, repo_id bigint, created_at timestamptz,
              raw jsonb) ON COMMIT DELETE ROWS)");
    exec(R"(CREATE TEMP TABLE etl_stage_pushes (
              push_id bigint, event_id text, repository_id bigint, actor_id bigint, ref text,
              head text, before text, created_at timestamptz, size integer, distinct_size integer,
              commit_count integer) ON COMMIT DELETE ROWS)");
  }

 public:
  std::optional<std::string> loadCheckpoint(const std::string& pipeline) override {
    open();
    Result r(params("SELECT checkpoint FROM etl_checkpoints WHERE pipeline = $1", {pipeline}));
    if (PQntuples(r.result) == 0) return std::nullopt;
    return std::string(PQgetvalue(r.result, 0, 0));
  }

  WriteResult write(const std::string& pipeline, const std::string& plugin, const Rows& rows,
                    const std::string& checkpoint) override {
    open();
    try {
      bool safe = true;
      for (const auto& p : rows.pushes) {
        safe = safe && copySafe(p.ref) && copySafe(p.head) && copySafe(p.before.value_or("")) &&
               copySafe(p.createdAt) && copySafe(p.eventId);
      }
      for (const auto& e : rows.events) safe = safe && copySafe(e.eventId) && copySafe(e.type);
      if (safe) {
        try {
          return writeBulk(pipeline, rows, checkpoint);
        } catch (const DataError& e) {
          rollback();
          logger_.warning(std::string("batch refused (") + e.what() + "): storing it row by row");
        }
      }
      return writeRowByRow(pipeline, plugin, rows, checkpoint);
    } catch (...) {
      rollback();
      throw;
    }
  }

 private:
  WriteResult writeBulk(const std::string& pipeline, const Rows& rows,
                        const std::string& checkpoint) {
    WriteResult result;
    exec("BEGIN");
    if (!rows.events.empty()) {
      std::string csv;
      std::size_t bytes = 0;
      for (const auto& e : rows.events) bytes += e.raw->size() + 64;
      csv.reserve(bytes);
      for (const auto& e : rows.events) {
        csvRow(csv, e.eventId, e.type, e.actorId, e.repoId, e.createdAt, *e.raw);
      }
      copy("etl_stage_events", csv);
      Result r(check(PQexec(pg_, R"(INSERT INTO github_events
          (event_id, type, actor_id, repo_id, created_at, raw)
          SELECT event_id, type, actor_id, repo_id, created_at, raw FROM etl_stage_events
          ON CONFLICT (event_id) DO NOTHING)"),
                     "storing events"));
      result.eventsInserted = std::atoll(PQcmdTuples(r.result));
    }
    if (!rows.pushes.empty()) {
      std::string csv;
      for (const auto& p : rows.pushes) {
        csvRow(csv, p.pushId, p.eventId, p.repositoryId, p.actorId, p.ref, p.head, p.before,
               p.createdAt, p.size, p.distinctSize, p.commitCount);
      }
      copy("etl_stage_pushes", csv);
      Result r(check(PQexec(pg_, R"(INSERT INTO push_events
          (push_id, event_id, repository_id, actor_id, ref, head, before, created_at, size,
           distinct_size, commit_count)
          SELECT push_id, event_id, repository_id, actor_id, ref, head, before, created_at, size,
                 distinct_size, commit_count FROM etl_stage_pushes
          ON CONFLICT (push_id) DO NOTHING)"),
                     "storing push events"));
      result.pushesInserted = std::atoll(PQcmdTuples(r.result));
    }
    writeEnrichment(rows, nullptr);
    finish(pipeline, rows.deadLetters, checkpoint);
    return result;
  }

  WriteResult writeRowByRow(const std::string& pipeline, const std::string& plugin,
                            const Rows& rows, const std::string& checkpoint) {
    WriteResult result;
    std::vector<DeadLetterRow> letters = rows.deadLetters;
    exec("BEGIN");
    auto refuse = [&](const std::string& stream, const std::string& record,
                      const std::string& reason,
                      std::vector<std::pair<std::size_t, std::string>>& rejected, std::size_t i) {
      rejected.emplace_back(i, reason);
      letters.push_back(
          deadLetterRow(etl::DeadLetter{etl::Record(stream, record), plugin, reason}));
    };
    auto attempt = [&](const char* sql, const std::vector<Param>& values, const std::string& stream,
                       const std::string& record,
                       std::vector<std::pair<std::size_t, std::string>>& rejected,
                       std::size_t i) -> long long {
      exec("SAVEPOINT row");
      try {
        Result r(params(sql, values));
        exec("RELEASE SAVEPOINT row");
        return std::atoll(PQcmdTuples(r.result));
      } catch (const DataError& e) {
        exec("ROLLBACK TO SAVEPOINT row");
        refuse(stream, record, e.what(), rejected, i);
        return 0;
      }
    };
    std::map<std::string, std::string> refusedEvents;  // event id -> reason
    for (std::size_t i = 0; i < rows.events.size(); ++i) {
      const auto& e = rows.events[i];
      std::size_t before = result.rejectedEvents.size();
      result.eventsInserted += attempt(
          "INSERT INTO github_events (event_id, type, actor_id, repo_id, created_at, raw) "
          "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
          {e.eventId, e.type, text(e.actorId), text(e.repoId), e.createdAt, *e.raw},
          "github_events", *e.raw, result.rejectedEvents, i);
      if (result.rejectedEvents.size() > before) {
        refusedEvents[e.eventId] = result.rejectedEvents.back().second;
      }
    }
    for (std::size_t i = 0; i < rows.pushes.size(); ++i) {
      const auto& p = rows.pushes[i];
      // A derived row never goes in without its raw event.
      if (auto refused = refusedEvents.find(p.eventId); refused != refusedEvents.end()) {
        refuse("push_events", *p.raw,
               "its raw event " + p.eventId + " was not stored (" + refused->second + ")",
               result.rejectedPushes, i);
        continue;
      }
      result.pushesInserted += attempt(
          "INSERT INTO push_events (push_id, event_id, repository_id, actor_id, ref, head, "
          "before, created_at, size, distinct_size, commit_count) VALUES ($1, $2, $3, $4, $5, "
          "$6, $7, $8, $9, $10, $11) ON CONFLICT (push_id) DO NOTHING",
          {std::to_string(p.pushId), p.eventId, std::to_string(p.repositoryId),
           std::to_string(p.actorId), p.ref, p.head, p.before, p.createdAt, text(p.size),
           text(p.distinctSize), text(p.commitCount)},
          "push_events", *p.raw, result.rejectedPushes, i);
    }
    writeEnrichment(rows, [&](const EntityRow& e, const std::string& reason) {
      etl::Record record(e.kind == EntityKind::Actor ? "actors" : "repositories",
                         e.raw.value_or(""));
      letters.push_back(deadLetterRow(etl::DeadLetter{record, plugin, reason}));
    });
    finish(pipeline, letters, checkpoint);
    return result;
  }

  // Entities (upserts; a 304 only refreshes fetched_at) and push event outcomes. With `onRefused`
  // each entity gets a savepoint and a refused one is reported instead of failing the batch.
  void writeEnrichment(const Rows& rows,
                       const std::function<void(const EntityRow&, const std::string&)>& onRefused) {
    for (const auto& e : rows.entities) {
      std::string table = e.kind == EntityKind::Actor ? "actors" : "repositories";
      std::string name = e.kind == EntityKind::Actor ? "login" : "full_name";
      if (onRefused) exec("SAVEPOINT entity");
      try {
        if (e.refreshOnly) {
          Result r(params("UPDATE " + table + " SET fetched_at = $2::timestamptz WHERE id = $1",
                          {std::to_string(e.id), e.fetchedAt}));
        } else {
          Result r(params("INSERT INTO " + table + " (id, " + name +
                              ", raw, etag, fetched_at, status) VALUES ($1, $2, $3::jsonb, $4, "
                              "$5::timestamptz, $6) ON CONFLICT (id) DO UPDATE SET " +
                              name + " = EXCLUDED." + name + ", raw = coalesce(EXCLUDED.raw, " +
                              table +
                              ".raw), etag = EXCLUDED.etag, fetched_at = EXCLUDED.fetched_at, "
                              "status = EXCLUDED.status",
                          {std::to_string(e.id), e.name, e.raw, e.etag, e.fetchedAt, e.status}));
        }
        if (onRefused) exec("RELEASE SAVEPOINT entity");
      } catch (const DataError& error) {
        if (!onRefused) throw;
        exec("ROLLBACK TO SAVEPOINT entity");
        onRefused(e, error.what());
      }
    }
    for (const auto& o : rows.enrichment) {
      Result r(
          params("UPDATE push_events SET enrichment_status = $2, attempts = $3, "
                 "next_attempt_at = $4::timestamptz, last_error = $5, claimed_at = NULL "
                 "WHERE push_id = $1",
                 {std::to_string(o.pushId), o.status, std::to_string(o.attempts), o.nextAttemptAt,
                  o.error}));
    }
  }

 public:
  std::vector<Claim> claim(const std::string& nowIso, const std::string& leaseCutoff,
                           int64_t limit) override {
    open();
    Result r(params(R"(WITH due AS (
          SELECT p.push_id, e.raw->'actor'->>'login' AS login, e.raw->'repo'->>'name' AS name
          FROM push_events p LEFT JOIN github_events e ON e.event_id = p.event_id
          WHERE (p.enrichment_status = 'pending'
                 AND (p.next_attempt_at IS NULL OR p.next_attempt_at <= $1::timestamptz))
             OR (p.enrichment_status = 'failed' AND p.next_attempt_at <= $1::timestamptz)
             OR (p.enrichment_status = 'in_progress' AND p.claimed_at < $2::timestamptz)
          ORDER BY p.push_id
          LIMIT $3
          FOR UPDATE OF p SKIP LOCKED)
        UPDATE push_events p SET enrichment_status = 'in_progress', claimed_at = $1::timestamptz
        FROM due WHERE p.push_id = due.push_id
        RETURNING p.push_id, p.actor_id, p.repository_id, coalesce(due.login, ''),
                  coalesce(due.name, ''), p.attempts)",
                    {nowIso, leaseCutoff, std::to_string(limit)}));
    std::vector<Claim> claims;
    for (int i = 0; i < PQntuples(r.result); ++i) {
      claims.push_back({std::atoll(PQgetvalue(r.result, i, 0)),
                        std::atoll(PQgetvalue(r.result, i, 1)),
                        std::atoll(PQgetvalue(r.result, i, 2)), PQgetvalue(r.result, i, 3),
                        PQgetvalue(r.result, i, 4), std::atoll(PQgetvalue(r.result, i, 5))});
    }
    std::sort(claims.begin(), claims.end(),
              [](const Claim& a, const Claim& b) { return a.pushId < b.pushId; });
    return claims;
  }

  std::map<int64_t, CachedEntity> cached(EntityKind kind,
                                         const std::vector<int64_t>& ids) override {
    open();
    std::string list = "{";
    for (std::size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + std::to_string(ids[i]);
    list += "}";
    std::string table = kind == EntityKind::Actor ? "actors" : "repositories";
    Result r(
        params("SELECT id, coalesce(etag, ''), to_char(fetched_at AT TIME ZONE 'UTC', "
               "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), status FROM " +
                   table + " WHERE id = ANY($1::bigint[]) AND fetched_at IS NOT NULL",
               {list}));
    std::map<int64_t, CachedEntity> found;
    for (int i = 0; i < PQntuples(r.result); ++i) {
      found[std::atoll(PQgetvalue(r.result, i, 0))] = {
          PQgetvalue(r.result, i, 1), PQgetvalue(r.result, i, 2), PQgetvalue(r.result, i, 3)};
    }
    return found;
  }

  std::map<std::string, int64_t> enrichmentCounts() override {
    open();
    Result r(check(PQexec(pg_, "SELECT enrichment_status, count(*) FROM push_events GROUP BY 1"),
                   "counting"));
    std::map<std::string, int64_t> counts;
    for (int i = 0; i < PQntuples(r.result); ++i) {
      counts[PQgetvalue(r.result, i, 0)] = std::atoll(PQgetvalue(r.result, i, 1));
    }
    return counts;
  }

 private:
  // Dead letters and the checkpoint, then COMMIT.
  void finish(const std::string& pipeline, const std::vector<DeadLetterRow>& letters,
              const std::string& checkpoint) {
    for (const auto& l : letters) {
      Result r(params(
          "INSERT INTO etl_dead_letters (fingerprint, pipeline, plugin, stream, reason, record, "
          "record_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fingerprint) DO NOTHING",
          {l.fingerprint, pipeline, l.plugin, l.stream, l.reason, l.record,
           Param::bytes(l.recordBytes)}));
    }
    if (!checkpoint.empty()) {
      Result r(
          params("INSERT INTO etl_checkpoints (pipeline, checkpoint) VALUES ($1, $2) "
                 "ON CONFLICT (pipeline) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, "
                 "updated_at = now()",
                 {pipeline, checkpoint}));
    }
    exec("COMMIT");
  }

  void migrate() {
    exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")");
    try {
      exec(R"(CREATE TABLE IF NOT EXISTS etl_schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()))");
      for (const auto& m : postgresMigrations()) {
        Result applied(params("SELECT 1 FROM etl_schema_migrations WHERE version = $1",
                              {std::to_string(m.version)}));
        if (PQntuples(applied.result) > 0) continue;
        exec("BEGIN");
        for (const char* statement : m.statements) exec(statement);
        Result r(params("INSERT INTO etl_schema_migrations (version, name) VALUES ($1, $2)",
                        {std::to_string(m.version), m.name}));
        exec("COMMIT");
        logger_.information("applied migration " + std::to_string(m.version) + ": " + m.name);
      }
    } catch (...) {
      rollback();
      exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")");
      throw;
    }
    exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")");
    migrated_ = true;
  }

  void copy(const std::string& table, const std::string& csv) {
    Result start(check(PQexec(pg_, ("COPY " + table +
                                    " FROM STDIN (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01', "
                                    "NULL E'\\x03')")
                                       .c_str()),
                       "starting COPY", PGRES_COPY_IN));
    if (PQputCopyData(pg_, csv.data(), static_cast<int>(csv.size())) != 1 ||
        PQputCopyEnd(pg_, nullptr) != 1) {
      connectionFailure("sending COPY data");
    }
    Result end(check(PQgetResult(pg_), "COPY into " + table));
    while (PGresult* extra = PQgetResult(pg_)) PQclear(extra);
  }

  // Text values go with their length checked: PostgreSQL text cannot hold a NUL byte, and passing
  // one through a C string would silently cut the value there. Bytes go in binary format.
  PGresult* params(const std::string& sql, const std::vector<Param>& values) {
    std::vector<const char*> pointers;
    std::vector<int> lengths, formats;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const auto& v = values[i].value;
      if (v && !values[i].binary && std::memchr(v->data(), 0, v->size())) {
        throw DataError("value $" + std::to_string(i + 1) +
                        " holds a NUL byte, which PostgreSQL text cannot store");
      }
      pointers.push_back(v ? v->data() : nullptr);
      lengths.push_back(v ? static_cast<int>(v->size()) : 0);
      formats.push_back(values[i].binary ? 1 : 0);
    }
    return check(PQexecParams(pg_, sql.c_str(), static_cast<int>(pointers.size()), nullptr,
                              pointers.data(), lengths.data(), formats.data(), 0),
                 sql.substr(0, 40));
  }

  void exec(const std::string& sql) {
    Result r(check(PQexec(pg_, sql.c_str()), sql.substr(0, 40)));
  }

  void rollback() {
    if (pg_ && PQstatus(pg_) == CONNECTION_OK && PQtransactionStatus(pg_) != PQTRANS_IDLE) {
      PQclear(PQexec(pg_, "ROLLBACK"));
    }
  }

  [[noreturn]] void connectionFailure(const std::string& what) {
    std::string message = scrub(PQerrorMessage(pg_), *connection_);
    disconnect();  // reconnect on the next attempt
    throw etl::RetryableError(what + " on " + describe() + ": " + message);
  }

  // Classifies a failed result: lost connection and transient server states are retryable; data
  // errors (classes 22, 23) are the rows' fault; anything else is a bug or a misconfiguration.
  PGresult* check(PGresult* result, const std::string& what,
                  ExecStatusType expected = PGRES_COMMAND_OK) {
    ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status == expected || (expected == PGRES_COMMAND_OK && status == PGRES_TUPLES_OK)) {
      return result;
    }
    std::string state = result && PQresultErrorField(result, PG_DIAG_SQLSTATE)
                            ? PQresultErrorField(result, PG_DIAG_SQLSTATE)
                            : "";
    std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(pg_);
    if (result) PQclear(result);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    message = scrub(message, *connection_);
    if (PQstatus(pg_) != CONNECTION_OK || state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 ||
        state.rfind("53", 0) == 0 || state == "40001" || state == "40P01" || state.empty()) {
      connectionFailure(what + " (" + message + ")");
    }
    if (state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0) {
      throw DataError(message + " [SQLSTATE " + state + "]");
    }
    throw std::runtime_error(what + ": " + message + " [SQLSTATE " + state + "]");
  }

  std::string text_, passwordEnv_;
  std::optional<Connection> connection_;
  Poco::Logger& logger_;
  PGconn* pg_ = nullptr;
  bool migrated_ = false;
};

}  // namespace

std::unique_ptr<Store> makePostgresStore(const std::string& connection,
                                         const std::string& passwordEnv, Poco::Logger& logger) {
  return std::make_unique<PgStore>(connection, passwordEnv, logger);
}

}  // namespace store
