#include "claim_queue.h"

#include <algorithm>

#include "column_types.h"
#include "database.h"
#include "dialects.h"
#include "mysql_session.h"
#include "pg_session.h"
#include "sqlite_session.h"

namespace sql {
namespace {

// 'text' as an SQL string literal.
std::string literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// The condition for a due row, with the dialect's placeholders: now, lease cutoff, then the
// statuses (fresh, the other ready ones, claimed).
std::string dueCondition(const ClaimSpec& s, const std::function<std::string(int)>& p) {
  std::string status = quoteIdentifier(s.status);
  std::string fresh = status + " = " + p(3);
  if (!s.due.empty()) {
    std::string due = quoteIdentifier(s.due);
    fresh = "(" + fresh + " AND (" + due + " IS NULL OR " + due + " <= " + p(1) + "))";
  }
  std::string condition = fresh;
  if (s.ready.size() > 1) {
    std::string others;
    for (std::size_t i = 1; i < s.ready.size(); ++i) {
      others += (i > 1 ? ", " : "") + p(static_cast<int>(3 + i));
    }
    condition += " OR (" + status + " IN (" + others + ")" +
                 (s.due.empty() ? "" : " AND " + quoteIdentifier(s.due) + " <= " + p(1)) + ")";
  }
  condition += " OR (" + status + " = " + p(static_cast<int>(3 + s.ready.size())) + " AND " +
               quoteIdentifier(s.claimedAt) + " < " + p(2) + ")";
  return condition;
}

std::vector<std::string> statusValues(const ClaimSpec& s, const std::string& now,
                                      const std::string& cutoff) {
  std::vector<std::string> values{now, cutoff};
  for (const auto& r : s.ready) values.push_back(r);
  values.push_back(s.claimed);
  return values;
}

class PgClaimQueue : public ClaimQueue {
 public:
  PgClaimQueue(const std::string& uri, ClaimSpec spec, Poco::Logger& logger)
      : spec_(std::move(spec)), session_(uri, logger), logger_(logger) {
    auto p = [](int i) { return "$" + std::to_string(i); };
    std::string table = quoteIdentifier(spec_.table), key = quoteIdentifier(spec_.key);
    std::string json;
    for (const auto& c : spec_.columns) {
      json += (json.empty() ? "" : ", ") + literal(c) + ", t." + quoteIdentifier(c);
    }
    int limit = static_cast<int>(4 + spec_.ready.size());
    claim_ = "WITH due AS (SELECT " + key + " FROM " + table + " WHERE " + dueCondition(spec_, p) +
             " ORDER BY " + key + " LIMIT " + p(limit) + " FOR UPDATE SKIP LOCKED) UPDATE " +
             table + " t SET " + quoteIdentifier(spec_.status) + " = " +
             p(static_cast<int>(3 + spec_.ready.size())) + ", " + quoteIdentifier(spec_.claimedAt) +
             " = $1 FROM due WHERE t." + key + " = due." + key + " RETURNING t." + key +
             ", json_build_object(" + json + ")::text";
  }

  std::string describe() const override { return session_.describe(); }

  std::vector<std::string> claim(const std::string& now, const std::string& cutoff,
                                 int64_t limit) override {
    open();
    std::vector<Param> values;
    for (auto& v : statusValues(spec_, now, cutoff)) values.emplace_back(std::move(v));
    values.emplace_back(std::to_string(limit));
    Result r(session_.params(claim_, values));
    // RETURNING comes in no particular order: by key, as the claim chose them.
    std::vector<std::pair<std::string, std::string>> rows;
    for (int i = 0; i < r.rows(); ++i) rows.emplace_back(r.value(i, 0), r.value(i, 1));
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
      return a.first.size() != b.first.size() ? a.first.size() < b.first.size() : a.first < b.first;
    });
    std::vector<std::string> out;
    for (auto& row : rows) out.push_back(std::move(row.second));
    return out;
  }

  std::map<std::string, int64_t> counts() override {
    open();
    Result r(session_.query("SELECT " + quoteIdentifier(spec_.status) + ", count(*) FROM " +
                            quoteIdentifier(spec_.table) + " GROUP BY 1"));
    std::map<std::string, int64_t> counts;
    for (int i = 0; i < r.rows(); ++i) counts[r.value(i, 0)] = std::stoll(r.value(i, 1));
    return counts;
  }

 private:
  void open() {
    if (session_.connected()) return;
    session_.connect();
    logger_.information("claiming from " + spec_.table + " in " + describe());
  }

  ClaimSpec spec_;
  PgSession session_;
  Poco::Logger& logger_;
  std::string claim_;
};

class SqliteClaimQueue : public ClaimQueue {
 public:
  SqliteClaimQueue(const std::string& path, ClaimSpec spec, Poco::Logger& logger)
      : spec_(std::move(spec)), session_(path), logger_(logger) {
    auto p = [](int i) { return "?" + std::to_string(i); };
    std::string table = quoteIdentifier(spec_.table), key = quoteIdentifier(spec_.key);
    std::string json;
    for (const auto& c : spec_.columns) {
      json += (json.empty() ? "" : ", ") + literal(c) + ", " + quoteIdentifier(c);
    }
    int limit = static_cast<int>(4 + spec_.ready.size());
    claim_ = "UPDATE " + table + " SET " + quoteIdentifier(spec_.status) + " = " +
             p(static_cast<int>(3 + spec_.ready.size())) + ", " + quoteIdentifier(spec_.claimedAt) +
             " = ?1 WHERE " + key + " IN (SELECT " + key + " FROM " + table + " WHERE " +
             dueCondition(spec_, p) + " ORDER BY " + key + " LIMIT " + p(limit) + ") RETURNING " +
             key + ", json_object(" + json + ")";
  }

  std::string describe() const override { return "sqlite:" + session_.path(); }

  std::vector<std::string> claim(const std::string& now, const std::string& cutoff,
                                 int64_t limit) override {
    open();
    std::vector<std::optional<std::string_view>> values;
    std::vector<std::string> texts = statusValues(spec_, now, cutoff);
    texts.push_back(std::to_string(limit));
    for (const auto& t : texts) values.emplace_back(t);
    std::vector<std::pair<int64_t, std::string>> rows;
    SqliteSession::Statement update(session_, claim_);
    for (bool row = update.run(values); row; row = update.next()) {
      rows.emplace_back(std::stoll(update.text(0).value_or("0")), update.text(1).value_or("{}"));
    }
    std::sort(rows.begin(), rows.end());
    std::vector<std::string> out;
    for (auto& row : rows) out.push_back(std::move(row.second));
    return out;
  }

  std::map<std::string, int64_t> counts() override {
    open();
    std::map<std::string, int64_t> counts;
    SqliteSession::Statement select(session_, "SELECT " + quoteIdentifier(spec_.status) +
                                                  ", count(*) FROM " +
                                                  quoteIdentifier(spec_.table) + " GROUP BY 1");
    for (bool row = select.run({}); row; row = select.next()) {
      counts[select.text(0).value_or("")] = std::stoll(select.text(1).value_or("0"));
    }
    return counts;
  }

 private:
  void open() {
    if (session_.isOpen()) return;
    session_.open();
    session_.requireWritable();
    logger_.information("claiming from " + spec_.table + " in " + describe());
  }

  ClaimSpec spec_;
  SqliteSession session_;
  Poco::Logger& logger_;
  std::string claim_;
};

// MariaDB/MySQL: no UPDATE ... RETURNING, so a claim is a transaction of three statements: the
// due keys locked with FOR UPDATE SKIP LOCKED (MariaDB 10.6+, MySQL 8), their update, and their
// columns read back as JSON. Times are compared as the columns hold them: a DATETIME column gets
// "YYYY-MM-DD HH:MM:SS.ffffff" UTC (the session's zone is UTC), a text column ISO 8601 as given.
class MysqlClaimQueue : public ClaimQueue {
 public:
  MysqlClaimQueue(const std::string& uri, ClaimSpec spec, Poco::Logger& logger)
      : spec_(std::move(spec)), session_(uri), logger_(logger) {
    // MySQL's ? are positional: each value's mark becomes a ?, and the marks' order in the text
    // is the order the values bind in (not the order dueCondition made them: the operands of +
    // are evaluated in no fixed order).
    auto p = [](int i) { return "\x01" + std::to_string(i) + "\x02"; };
    std::string table = quoteIdentifier(spec_.table), key = quoteIdentifier(spec_.key);
    std::string marked = dueCondition(spec_, p), condition;
    for (std::size_t at = 0; at < marked.size();) {
      std::size_t mark = marked.find('\x01', at);
      condition += marked.substr(at, mark == std::string::npos ? std::string::npos : mark - at);
      if (mark == std::string::npos) break;
      std::size_t end = marked.find('\x02', mark);
      order_.push_back(std::stoi(marked.substr(mark + 1, end - mark - 1)));
      condition += "?";
      at = end + 1;
    }
    select_ = "SELECT " + key + " FROM " + table + " WHERE " + condition + " ORDER BY " + key;
    for (const auto& c : spec_.columns) {
      json_ += (json_.empty() ? "" : ", ") + literal(c) + ", " + quoteIdentifier(c);
    }
  }

  std::string describe() const override { return session_.describe(); }

  std::vector<std::string> claim(const std::string& now, const std::string& cutoff,
                                 int64_t limit) override {
    open();
    std::vector<std::string> texts = statusValues(spec_, asStored(now), asStored(cutoff));
    std::vector<MysqlSession::Value> values;
    for (int i : order_) values.emplace_back(texts[static_cast<std::size_t>(i - 1)]);
    std::string table = quoteIdentifier(spec_.table), key = quoteIdentifier(spec_.key);
    std::vector<std::string> out;
    session_.query("START TRANSACTION");
    try {
      auto keys = session_.query(select_ + " LIMIT " + std::to_string(std::max<int64_t>(limit, 0)) +
                                     " FOR UPDATE SKIP LOCKED",
                                 values);
      if (!keys.empty()) {
        std::string in;
        std::vector<MysqlSession::Value> ids;
        for (const auto& k : keys) {
          in += in.empty() ? "?" : ", ?";
          ids.emplace_back(k[0]);
        }
        std::string claimedAt = asStored(now);  // the values view it
        std::vector<MysqlSession::Value> update{spec_.claimed, claimedAt};
        update.insert(update.end(), ids.begin(), ids.end());
        session_.query("UPDATE " + table + " SET " + quoteIdentifier(spec_.status) + " = ?, " +
                           quoteIdentifier(spec_.claimedAt) + " = ? WHERE " + key + " IN (" + in +
                           ")",
                       update);
        for (auto& row : session_.query("SELECT JSON_OBJECT(" + json_ + ") FROM " + table +
                                            " WHERE " + key + " IN (" + in + ") ORDER BY " + key,
                                        ids)) {
          out.push_back(row[0].value_or("{}"));
        }
      }
      session_.query("COMMIT");
    } catch (...) {
      session_.rollback();
      throw;
    }
    return out;
  }

  std::map<std::string, int64_t> counts() override {
    open();
    std::map<std::string, int64_t> counts;
    for (auto& row : session_.query("SELECT " + quoteIdentifier(spec_.status) + ", count(*) FROM " +
                                    quoteIdentifier(spec_.table) + " GROUP BY 1")) {
      counts[row[0].value_or("")] = std::stoll(row[1].value_or("0"));
    }
    return counts;
  }

 private:
  void open() {
    if (session_.connected()) return;
    session_.connect();
    auto type = session_.value(
        "SELECT LOWER(DATA_TYPE) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = ? AND COLUMN_NAME = ?",
        {spec_.table, spec_.claimedAt});
    datetime_ = type && (*type == "datetime" || *type == "timestamp");
    logger_.information("claiming from " + spec_.table + " in " + describe());
  }
  std::string asStored(const std::string& iso) const {
    if (!datetime_) return iso;
    std::string stored;
    return convertValue(columnType("timestamptz"), iso, valueStyle(Dialect::Mysql), stored) ==
                   Converted::Changed
               ? stored
               : iso;
  }

  ClaimSpec spec_;
  MysqlSession session_;
  Poco::Logger& logger_;
  std::vector<int> order_;  // the value (1-based, as dueCondition numbers them) of each ?
  std::string select_, json_;
  bool datetime_ = false;
};

}  // namespace

std::unique_ptr<ClaimQueue> makeClaimQueue(const std::string& uri, const std::string& stateDir,
                                           ClaimSpec spec, Poco::Logger& logger) {
  switch (dialectOf(uri)) {
    case Dialect::Sqlite:
      return std::make_unique<SqliteClaimQueue>(*sqlitePathOf(uri, stateDir), std::move(spec),
                                                logger);
    case Dialect::Mysql:
      return std::make_unique<MysqlClaimQueue>(uri, std::move(spec), logger);
    case Dialect::Postgres:
      break;
  }
  return std::make_unique<PgClaimQueue>(uri, std::move(spec), logger);
}

}  // namespace sql
