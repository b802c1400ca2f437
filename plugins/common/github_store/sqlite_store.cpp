// The enrichment's reads on the embedded SQLite store. One writer at a time: a claim is one
// IMMEDIATE transaction, so concurrent claimers never take the same row.
#include "database.h"
#include "sqlite_session.h"
#include "store.h"

namespace store {
namespace {

class SqliteStore : public Store {
 public:
  SqliteStore(std::string path, Poco::Logger& logger)
      : session_(std::move(path)), logger_(logger) {}

  std::string describe() const override { return "sqlite:" + session_.path(); }

  void open() override {
    if (session_.isOpen()) return;
    session_.open();
    logger_.information("using the embedded SQLite store " + session_.path());
  }

  std::vector<Claim> claim(const std::string& nowIso, const std::string& leaseCutoff,
                           int64_t limit) override {
    open();
    std::vector<Claim> claims;
    session_.exec("BEGIN IMMEDIATE");
    try {
      sql::SqliteSession::Statement due(
          session_,
          "SELECT p.push_id, p.actor_id, p.repository_id, p.attempts, "
          "json_extract(e.raw, '$.actor.login'), json_extract(e.raw, '$.repo.name') "
          "FROM push_events p LEFT JOIN github_events e ON e.event_id = p.event_id "
          "WHERE (p.enrichment_status = 'pending' AND (p.next_attempt_at IS NULL OR "
          "p.next_attempt_at <= ?1)) OR (p.enrichment_status = 'failed' AND "
          "p.next_attempt_at <= ?1) OR (p.enrichment_status = 'in_progress' AND "
          "p.claimed_at < ?2) ORDER BY p.push_id LIMIT ?3");
      for (bool row = due.run({nowIso, leaseCutoff, std::to_string(limit)}); row;
           row = due.next()) {
        claims.push_back({std::stoll(*due.text(0)), std::stoll(*due.text(1)),
                          std::stoll(*due.text(2)), due.text(4).value_or(""),
                          due.text(5).value_or(""), std::stoll(*due.text(3))});
      }
      sql::SqliteSession::Statement mark(
          session_,
          "UPDATE push_events SET enrichment_status = 'in_progress', claimed_at = ? "
          "WHERE push_id = ?");
      for (const auto& c : claims) mark.run({nowIso, std::to_string(c.pushId)});
      session_.exec("COMMIT");
    } catch (...) {
      session_.rollback();
      throw;
    }
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
    sql::SqliteSession::Statement select(session_, "SELECT id, etag, fetched_at, status FROM " +
                                                       table + " WHERE id IN (" + list +
                                                       ") AND fetched_at IS NOT NULL");
    for (bool row = select.run({}); row; row = select.next()) {
      found[std::stoll(*select.text(0))] = {
          select.text(1).value_or(""), select.text(2).value_or(""), select.text(3).value_or("ok")};
    }
    return found;
  }

  std::map<std::string, int64_t> enrichmentCounts() override {
    open();
    std::map<std::string, int64_t> counts;
    sql::SqliteSession::Statement select(
        session_, "SELECT enrichment_status, count(*) FROM push_events GROUP BY 1");
    for (bool row = select.run({}); row; row = select.next()) {
      counts[*select.text(0)] = std::stoll(*select.text(1));
    }
    return counts;
  }

 private:
  sql::SqliteSession session_;
  Poco::Logger& logger_;
};

}  // namespace

std::unique_ptr<Store> makePostgresStore(const std::string& uri, Poco::Logger& logger);

std::unique_ptr<Store> openStore(const etl::Config::Connection& connection,
                                 const std::string& stateDir, Poco::Logger& logger) {
  if (auto path = sql::sqlitePathOf(connection.uri, stateDir)) {
    return std::make_unique<SqliteStore>(*path, logger);
  }
  return makePostgresStore(connection.uri, logger);
}

}  // namespace store
