// The enrichment's reads on PostgreSQL: claims with FOR UPDATE SKIP LOCKED (concurrent claimers
// never take the same row), the cache, the counts.
#include <algorithm>

#include "pg_session.h"
#include "store.h"

namespace store {
namespace {

class PgStore : public Store {
 public:
  PgStore(std::string uri, Poco::Logger& logger) : session_(std::move(uri)), logger_(logger) {}

  std::string describe() const override { return session_.describe(); }

  void open() override {
    if (session_.connected()) return;
    session_.connect();
    logger_.information("connected to " + describe());
  }

  std::vector<Claim> claim(const std::string& nowIso, const std::string& leaseCutoff,
                           int64_t limit) override {
    open();
    sql::Result r(session_.params(R"(WITH due AS (
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
    for (int i = 0; i < r.rows(); ++i) {
      claims.push_back({std::stoll(r.value(i, 0)), std::stoll(r.value(i, 1)),
                        std::stoll(r.value(i, 2)), r.value(i, 3), r.value(i, 4),
                        std::stoll(r.value(i, 5))});
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
    sql::Result r(
        session_.params("SELECT id, coalesce(etag, ''), to_char(fetched_at AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), status FROM " +
                            table + " WHERE id = ANY($1::bigint[]) AND fetched_at IS NOT NULL",
                        {list}));
    std::map<int64_t, CachedEntity> found;
    for (int i = 0; i < r.rows(); ++i) {
      found[std::stoll(r.value(i, 0))] = {r.value(i, 1), r.value(i, 2), r.value(i, 3)};
    }
    return found;
  }

  std::map<std::string, int64_t> enrichmentCounts() override {
    open();
    sql::Result r(session_.query("SELECT enrichment_status, count(*) FROM push_events GROUP BY 1"));
    std::map<std::string, int64_t> counts;
    for (int i = 0; i < r.rows(); ++i) counts[r.value(i, 0)] = std::stoll(r.value(i, 1));
    return counts;
  }

 private:
  sql::PgSession session_;
  Poco::Logger& logger_;
};

}  // namespace

std::unique_ptr<Store> makePostgresStore(const std::string& uri, Poco::Logger& logger) {
  return std::make_unique<PgStore>(uri, logger);
}

}  // namespace store
