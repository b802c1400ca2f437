#include "claim_queue.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "column_types.h"
#include "database.h"
#include "dialects.h"
#include "session.h"

namespace sql {
namespace {

// The values of a claim's statements, marked by number (dialects.h): now, lease cutoff, the ready
// statuses (fresh first), claimed. (The limit is written as a number: MySQL takes no string there.)
std::vector<std::string> claimValues(const ClaimSpec& s, const std::string& now,
                                     const std::string& cutoff) {
  std::vector<std::string> values{now, cutoff};
  for (const auto& r : s.ready) values.push_back(r);
  values.push_back(s.claimed);
  return values;
}
const char* const kLimit = "\x01limit\x02";

// The condition for a due row.
std::string dueCondition(const ClaimSpec& s) {
  std::string status = quoteIdentifier(s.status);
  std::string fresh = status + " = " + mark(3);
  if (!s.due.empty()) {
    std::string due = quoteIdentifier(s.due);
    fresh = "(" + fresh + " AND (" + due + " IS NULL OR " + due + " <= " + mark(1) + "))";
  }
  std::string condition = fresh;
  if (s.ready.size() > 1) {
    std::string others;
    for (std::size_t i = 1; i < s.ready.size(); ++i) {
      others += (i > 1 ? ", " : "") + mark(static_cast<int>(3 + i));
    }
    condition += " OR (" + status + " IN (" + others + ")" +
                 (s.due.empty() ? "" : " AND " + quoteIdentifier(s.due) + " <= " + mark(1)) + ")";
  }
  condition += " OR (" + status + " = " + mark(static_cast<int>(3 + s.ready.size())) + " AND " +
               quoteIdentifier(s.claimedAt) + " < " + mark(2) + ")";
  return condition;
}

// Rows (key, ...) by key: numerically when every key is an integer, else as text.
void sortByKey(Session::Rows& rows) {
  auto integer = [](const std::optional<std::string>& key) -> std::optional<long long> {
    if (!key || key->empty()) return std::nullopt;
    char* end = nullptr;
    errno = 0;
    long long value = std::strtoll(key->c_str(), &end, 10);
    if (errno || *end) return std::nullopt;
    return value;
  };
  bool numeric = std::all_of(rows.begin(), rows.end(),
                             [&](const auto& row) { return integer(row[0]).has_value(); });
  std::sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) {
    return numeric ? *integer(a[0]) < *integer(b[0]) : a[0].value_or("") < b[0].value_or("");
  });
}

// Written once over sql::Session: in one statement where the dialect has one (claimStatement:
// PostgreSQL's FOR UPDATE SKIP LOCKED, SQLite's one writer at a time), else in a transaction that
// locks the due rows (lockDue), updates them and reads them back (MariaDB/MySQL: no UPDATE ...
// RETURNING).
class SessionClaimQueue : public ClaimQueue {
 public:
  SessionClaimQueue(std::unique_ptr<Session> session, ClaimSpec spec, Poco::Logger& logger)
      : spec_(std::move(spec)), session_(std::move(session)), logger_(logger) {
    const SqlDialect& dialect = session_->dialect();
    std::string table = quoteIdentifier(spec_.table), key = quoteIdentifier(spec_.key);
    std::string claimed = mark(static_cast<int>(3 + spec_.ready.size()));
    std::string set = " SET " + quoteIdentifier(spec_.status) + " = " + claimed + ", " +
                      quoteIdentifier(spec_.claimedAt) + " = " + mark(1);
    std::string due = "SELECT " + key + " FROM " + table + " WHERE " + dueCondition(spec_) +
                      " ORDER BY " + key + " LIMIT " + kLimit;
    claim_ = dialect.claimStatement(table, key, set, due, spec_.columns);
    if (!claim_.empty()) return;
    claim_ = due + dialect.lockDue();
    update_ = "UPDATE " + table + " SET " + quoteIdentifier(spec_.status) + " = " + mark(2) + ", " +
              quoteIdentifier(spec_.claimedAt) + " = " + mark(1) + " WHERE " + key + " IN (";
    select_ = "SELECT " + key + ", " + dialect.jsonObject(spec_.columns) + " FROM " + table +
              " WHERE " + key + " IN (";
    orderBy_ = ") ORDER BY " + key;
  }

  std::string describe() const override { return session_->describe(); }

  std::vector<std::string> claim(const std::string& now, const std::string& cutoff,
                                 int64_t limit) override {
    open();
    auto values = claimValues(spec_, asStored(now), asStored(cutoff));
    std::string statement = claim_;
    statement.replace(statement.find(kLimit), std::string(kLimit).size(),
                      std::to_string(std::max<int64_t>(limit, 0)));
    if (!update_.empty()) return objects(claimInTransaction(statement, values));
    // RETURNING comes in no particular order: by key, as the claim chose them.
    auto rows = query(statement, values);
    sortByKey(rows);
    return objects(rows);
  }

  static std::vector<std::string> objects(Session::Rows rows) {
    std::vector<std::string> out;
    for (auto& row : rows) out.push_back(row[1].value_or("{}"));
    return out;
  }

  std::map<std::string, int64_t> counts() override {
    open();
    std::map<std::string, int64_t> counts;
    for (auto& row :
         session_->query("SELECT " + quoteIdentifier(spec_.status) + ", count(*) FROM " +
                         quoteIdentifier(spec_.table) + " GROUP BY 1")) {
      counts[row[0].value_or("")] = std::stoll(row[1].value_or("0"));
    }
    return counts;
  }

 private:
  Session::Rows query(const std::string& marked, const std::vector<std::string>& values) {
    Bound bound = bindMarks(session_->dialect(), marked, values);
    return session_->query(bound.statement,
                           Session::Values(bound.values.begin(), bound.values.end()));
  }

  // The due keys locked, their update, their columns read back.
  Session::Rows claimInTransaction(const std::string& claim,
                                   const std::vector<std::string>& values) {
    session_->execute(session_->dialect().begin());
    try {
      Session::Rows rows;
      std::vector<std::string> update{values[0], spec_.claimed}, keys;  // update_'s marks 1, 2
      std::string marks, keyMarks;
      for (auto& row : query(claim, values)) {
        marks += (keys.empty() ? "" : ", ") + mark(static_cast<int>(update.size() + 1));
        update.push_back(row[0].value_or(""));
        keys.push_back(row[0].value_or(""));
        keyMarks += (keys.size() > 1 ? ", " : "") + mark(static_cast<int>(keys.size()));
      }
      if (!keys.empty()) {
        // By Session::query: MySQL's sends values as escaped text, for a prepared statement takes
        // at most 65,535 values and a claim may be larger.
        query(update_ + marks + ")", update);
        rows = query(select_ + keyMarks + orderBy_, keys);
      }
      session_->execute("COMMIT");
      return rows;
    } catch (...) {
      session_->rollback();
      throw;
    }
  }

  void open() {
    if (session_->isOpen()) return;
    session_->open();
    session_->requireWritable();
    if (session_->dialect().valueStyle().plainTimestamps) {
      // Times are compared as the column holds them: a DATETIME column gets "YYYY-MM-DD
      // HH:MM:SS.ffffff" UTC (the session's zone is UTC), a text column ISO 8601 as given.
      auto folded = [](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
      };
      for (const auto& c : existingColumns(*session_, spec_.table)) {
        ValueKind kind = columnType(c.type).kind;
        if (folded(c.name) == folded(spec_.claimedAt)) {
          datetime_ = kind == ValueKind::Timestamp || kind == ValueKind::TimestampTz;
        }
      }
    }
    logger_.information("claiming from " + spec_.table + " in " + describe());
  }
  std::string asStored(const std::string& iso) const {
    if (!datetime_) return iso;
    std::string stored;
    return convertValue(columnType("timestamptz"), iso, session_->dialect().valueStyle(), stored) ==
                   Converted::Changed
               ? stored
               : iso;
  }

  ClaimSpec spec_;
  std::unique_ptr<Session> session_;
  Poco::Logger& logger_;
  std::string claim_, update_, select_,
      orderBy_;  // update_ and select_: MySQL's, to be ended with keys
  bool datetime_ = false;
};

}  // namespace

std::unique_ptr<ClaimQueue> makeClaimQueue(const std::string& uri, const std::string& stateDir,
                                           ClaimSpec spec, Poco::Logger& logger) {
  auto session = makeSession(uri, stateDir, logger);
  session->setAnswerTimeout(spec.answerTimeout);
  return std::make_unique<SessionClaimQueue>(std::move(session), std::move(spec), logger);
}

}  // namespace sql
