// The embedded default: the same tables in a local SQLite file (Poco Data SQLite), written with the
// same guarantees: insert-or-ignore on the same unique keys, and rows, dead letters and checkpoint
// in one transaction (WAL, synchronous=FULL). One writer at a time: BEGIN IMMEDIATE.
#include <Poco/Data/LOB.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/File.h>
#include <Poco/Nullable.h>
#include <Poco/Path.h>

#include "etl/errors.h"
#include "migrations.h"
#include "store.h"

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

namespace store {
namespace {

Poco::Nullable<Poco::Int64> nullable(const std::optional<int64_t>& v) {
  return v ? Poco::Nullable<Poco::Int64>(*v) : Poco::Nullable<Poco::Int64>();
}
Poco::Nullable<std::string> nullable(const std::optional<std::string>& v) {
  return v ? Poco::Nullable<std::string>(*v) : Poco::Nullable<std::string>();
}

class SqliteStore : public Store {
 public:
  SqliteStore(std::string path, Poco::Logger& logger) : path_(std::move(path)), logger_(logger) {
    Poco::Data::SQLite::Connector::registerConnector();
  }

  std::string describe() const override { return "sqlite:" + path_; }

  void open() override {
    if (ready_) return;
    // All or nothing: several connections opening a new file at once can meet a lock midway; the
    // next attempt then starts again from scratch instead of trusting a half-set-up session.
    try {
      guard([&] {
        std::string dir = Poco::Path(path_).parent().toString();
        if (!dir.empty()) Poco::File(dir).createDirectories();
        session_ = std::make_unique<Poco::Data::Session>("SQLite", path_);
        *session_ << "PRAGMA busy_timeout=30000", now;
        std::string mode;
        *session_ << "PRAGMA journal_mode=WAL", into(mode), now;
        *session_ << "PRAGMA synchronous=FULL", now;
        migrate();
      });
    } catch (...) {
      session_.reset();
      throw;
    }
    ready_ = true;
    logger_.information("using the embedded SQLite store " + path_);
  }

  std::optional<std::string> loadCheckpoint(const std::string& pipeline) override {
    open();
    std::vector<std::string> checkpoints;
    std::string name = pipeline;
    guard([&] {
      *session_ << "SELECT checkpoint FROM etl_checkpoints WHERE pipeline = ?", use(name),
          into(checkpoints), now;
    });
    if (checkpoints.empty()) return std::nullopt;
    return checkpoints.front();
  }

  WriteResult write(const std::string& pipeline, const std::string&, const Rows& rows,
                    const std::string& checkpoint) override {
    open();
    WriteResult result;
    guard([&] {
      *session_ << "BEGIN IMMEDIATE", now;
      try {
        writeRows(rows, result);
        writeEnrichment(rows);
        for (const auto& l : rows.deadLetters) {
          std::string fingerprint = l.fingerprint, name = pipeline, plugin = l.plugin,
                      stream = l.stream, reason = l.reason, record = l.record;
          Poco::Nullable<Poco::Data::BLOB> bytes;
          if (l.recordBytes) {
            bytes = Poco::Data::BLOB(reinterpret_cast<const unsigned char*>(l.recordBytes->data()),
                                     l.recordBytes->size());
          }
          *session_ << "INSERT OR IGNORE INTO etl_dead_letters (fingerprint, pipeline, plugin, "
                       "stream, reason, record, record_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
              use(fingerprint), use(name), use(plugin), use(stream), use(reason), use(record),
              use(bytes), now;
        }
        if (!checkpoint.empty()) {
          std::string name = pipeline, value = checkpoint;
          *session_ << "INSERT INTO etl_checkpoints (pipeline, checkpoint) VALUES (?, ?) "
                       "ON CONFLICT (pipeline) DO UPDATE SET checkpoint = excluded.checkpoint, "
                       "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
              use(name), use(value), now;
        }
        *session_ << "COMMIT", now;
      } catch (...) {
        try {
          *session_ << "ROLLBACK", now;
        } catch (...) {
        }
        throw;
      }
    });
    return result;
  }

  std::vector<Claim> claim(const std::string& nowIso, const std::string& leaseCutoff,
                           int64_t limit) override {
    open();
    std::vector<Claim> claims;
    guard([&] {
      *session_ << "BEGIN IMMEDIATE", now;
      try {
        std::vector<Poco::Int64> pushIds, actorIds, repoIds, attempts;
        std::vector<Poco::Nullable<std::string>> logins, names;
        std::string at = nowIso, cutoff = leaseCutoff;
        Poco::Int64 n = limit;
        *session_ << "SELECT p.push_id, p.actor_id, p.repository_id, p.attempts, "
                     "json_extract(e.raw, '$.actor.login'), json_extract(e.raw, '$.repo.name') "
                     "FROM push_events p LEFT JOIN github_events e ON e.event_id = p.event_id "
                     "WHERE (p.enrichment_status = 'pending' AND (p.next_attempt_at IS NULL OR "
                     "p.next_attempt_at <= ?)) OR (p.enrichment_status = 'failed' AND "
                     "p.next_attempt_at <= ?) OR (p.enrichment_status = 'in_progress' AND "
                     "p.claimed_at < ?) "
                     "ORDER BY p.push_id LIMIT ?",
            use(at), use(at), use(cutoff), use(n), into(pushIds), into(actorIds), into(repoIds),
            into(attempts), into(logins), into(names), now;
        Poco::Data::Statement mark(*session_);
        Poco::Int64 id = 0;
        mark << "UPDATE push_events SET enrichment_status = 'in_progress', claimed_at = ? "
                "WHERE push_id = ?",
            use(at), use(id);
        for (std::size_t i = 0; i < pushIds.size(); ++i) {
          id = pushIds[i];
          mark.execute();
          claims.push_back({pushIds[i], actorIds[i], repoIds[i],
                            logins[i].isNull() ? "" : logins[i].value(),
                            names[i].isNull() ? "" : names[i].value(), attempts[i]});
        }
        *session_ << "COMMIT", now;
      } catch (...) {
        try {
          *session_ << "ROLLBACK", now;
        } catch (...) {
        }
        throw;
      }
    });
    return claims;
  }

  std::map<int64_t, CachedEntity> cached(EntityKind kind,
                                         const std::vector<int64_t>& ids) override {
    open();
    std::map<int64_t, CachedEntity> found;
    if (ids.empty()) return found;
    std::string list;
    for (std::size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + std::to_string(ids[i]);
    std::string table = kind == EntityKind::Actor ? "actors" : "repositories";
    guard([&] {
      std::vector<Poco::Int64> found_ids;
      std::vector<Poco::Nullable<std::string>> etags;
      std::vector<std::string> fetched, statuses;
      *session_ << "SELECT id, etag, fetched_at, status FROM " + table + " WHERE id IN (" + list +
                       ") AND fetched_at IS NOT NULL",
          into(found_ids), into(etags), into(fetched), into(statuses), now;
      for (std::size_t i = 0; i < found_ids.size(); ++i) {
        found[found_ids[i]] = {etags[i].isNull() ? "" : etags[i].value(), fetched[i], statuses[i]};
      }
    });
    return found;
  }

  std::map<std::string, int64_t> enrichmentCounts() override {
    open();
    std::map<std::string, int64_t> counts;
    guard([&] {
      std::vector<std::string> statuses;
      std::vector<Poco::Int64> numbers;
      *session_ << "SELECT enrichment_status, count(*) FROM push_events GROUP BY 1", into(statuses),
          into(numbers), now;
      for (std::size_t i = 0; i < statuses.size(); ++i) counts[statuses[i]] = numbers[i];
    });
    return counts;
  }

 private:
  void writeEnrichment(const Rows& rows) {
    for (const auto& e : rows.entities) {
      std::string table = e.kind == EntityKind::Actor ? "actors" : "repositories";
      std::string column = e.kind == EntityKind::Actor ? "login" : "full_name";
      Poco::Int64 id = e.id;
      std::string name = e.name, etag = e.etag, fetched = e.fetchedAt, status = e.status;
      Poco::Nullable<std::string> raw = nullable(e.raw);
      if (e.refreshOnly) {
        *session_ << "UPDATE " + table + " SET fetched_at = ? WHERE id = ?", use(fetched), use(id),
            now;
      } else {
        *session_ << "INSERT INTO " + table + " (id, " + column +
                         ", raw, etag, fetched_at, status) VALUES (?, ?, ?, ?, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET " +
                         column + " = excluded." + column + ", raw = coalesce(excluded.raw, " +
                         table +
                         ".raw), etag = excluded.etag, "
                         "fetched_at = excluded.fetched_at, status = excluded.status",
            use(id), use(name), use(raw), use(etag), use(fetched), use(status), now;
      }
    }
    for (const auto& o : rows.enrichment) {
      Poco::Int64 id = o.pushId, attempts = o.attempts;
      std::string status = o.status;
      Poco::Nullable<std::string> next = nullable(o.nextAttemptAt), error = nullable(o.error);
      *session_ << "UPDATE push_events SET enrichment_status = ?, attempts = ?, "
                   "next_attempt_at = ?, last_error = ?, claimed_at = NULL WHERE push_id = ?",
          use(status), use(attempts), use(next), use(error), use(id), now;
    }
  }

  void writeRows(const Rows& rows, WriteResult& result) {
    if (!rows.events.empty()) {
      std::string id, type, raw;
      Poco::Nullable<Poco::Int64> actor, repo;
      Poco::Nullable<std::string> created;
      Poco::Data::Statement insert(*session_);
      insert << "INSERT OR IGNORE INTO github_events (event_id, type, actor_id, repo_id, "
                "created_at, raw) VALUES (?, ?, ?, ?, ?, ?)",
          use(id), use(type), use(actor), use(repo), use(created), use(raw);
      for (const auto& e : rows.events) {
        id = e.eventId, type = e.type, raw = *e.raw;
        actor = nullable(e.actorId), repo = nullable(e.repoId), created = nullable(e.createdAt);
        result.eventsInserted += static_cast<int64_t>(insert.execute());
      }
    }
    if (!rows.pushes.empty()) {
      Poco::Int64 pushId = 0, repositoryId = 0, actorId = 0;
      std::string eventId, ref, head, createdAt;
      Poco::Nullable<std::string> before;
      Poco::Nullable<Poco::Int64> size, distinct, commits;
      Poco::Data::Statement insert(*session_);
      insert << "INSERT OR IGNORE INTO push_events (push_id, event_id, repository_id, actor_id, "
                "ref, head, before, created_at, size, distinct_size, commit_count) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          use(pushId), use(eventId), use(repositoryId), use(actorId), use(ref), use(head),
          use(before), use(createdAt), use(size), use(distinct), use(commits);
      for (const auto& p : rows.pushes) {
        pushId = p.pushId, eventId = p.eventId, repositoryId = p.repositoryId;
        actorId = p.actorId, ref = p.ref, head = p.head, before = nullable(p.before);
        createdAt = p.createdAt, size = nullable(p.size);
        distinct = nullable(p.distinctSize), commits = nullable(p.commitCount);
        result.pushesInserted += static_cast<int64_t>(insert.execute());
      }
    }
  }

  void migrate() {
    *session_ << "BEGIN IMMEDIATE", now;  // serialises concurrent starts
    try {
      *session_ << "CREATE TABLE IF NOT EXISTS etl_schema_migrations (version INTEGER PRIMARY "
                   "KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT "
                   "(strftime('%Y-%m-%dT%H:%M:%fZ','now')))",
          now;
      for (const auto& m : sqliteMigrations()) {
        int version = m.version, applied = 0;
        *session_ << "SELECT count(*) FROM etl_schema_migrations WHERE version = ?", use(version),
            into(applied), now;
        if (applied) continue;
        for (const char* statement : m.statements) *session_ << statement, now;
        std::string name = m.name;
        *session_ << "INSERT INTO etl_schema_migrations (version, name) VALUES (?, ?)",
            use(version), use(name), now;
        logger_.information("applied migration " + std::to_string(m.version) + ": " + m.name);
      }
      *session_ << "COMMIT", now;
    } catch (...) {
      *session_ << "ROLLBACK", now;
      throw;
    }
  }

  // Busy/locked database: retry later; anything else is permanent.
  template <class F>
  void guard(F work) {
    try {
      work();
    } catch (const Poco::Data::SQLite::DBLockedException& e) {
      throw etl::RetryableError("SQLite store " + path_ + " is locked: " + e.displayText());
    } catch (const Poco::Data::SQLite::TableLockedException& e) {
      throw etl::RetryableError("SQLite store " + path_ + " is locked: " + e.displayText());
    } catch (const Poco::Exception& e) {
      session_.reset();
      ready_ = false;
      throw std::runtime_error("SQLite store " + path_ + ": " + e.displayText());
    }
  }

  std::string path_;
  Poco::Logger& logger_;
  std::unique_ptr<Poco::Data::Session> session_;
  bool ready_ = false;
};

}  // namespace

std::unique_ptr<Store> makePostgresStore(const std::string& connection,
                                         const std::string& passwordEnv, Poco::Logger& logger);

std::unique_ptr<Store> openStore(const std::string& connection, const std::string& passwordEnv,
                                 const std::string& sqlitePath, Poco::Logger& logger) {
  if (connection.empty()) return std::make_unique<SqliteStore>(sqlitePath, logger);
  return makePostgresStore(connection, passwordEnv, logger);
}

}  // namespace store
