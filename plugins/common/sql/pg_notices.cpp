#include "pg_notices.h"

#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <string>

namespace sql {
namespace {

std::string field(const PGresult* result, int code) {
  const char* value = PQresultErrorField(result, code);
  return value ? value : "";
}

// SQLSTATEs of "already exists" (class 42, duplicate_*): CREATE ... IF NOT EXISTS and ADD COLUMN
// IF NOT EXISTS say them each time a schema is checked again.
bool alreadyExists(const std::string& state) {
  for (const char* duplicate : {"42P07", "42710", "42P06", "42701", "42P04", "42723", "42P03"}) {
    if (state == duplicate) return true;
  }
  return false;
}

Poco::Message::Priority priorityOf(const std::string& severity, const std::string& state) {
  if (severity == "WARNING") return Poco::Message::PRIO_WARNING;
  if (severity == "NOTICE" || severity == "INFO") {
    return alreadyExists(state) ? Poco::Message::PRIO_DEBUG : Poco::Message::PRIO_INFORMATION;
  }
  return Poco::Message::PRIO_DEBUG;  // LOG, DEBUG
}

void receive(void* arg, const PGresult* result) {
  auto& logger = *static_cast<Poco::Logger*>(arg);
  // The unlocalized severity (libpq 9.6 and later; the localized one otherwise).
  std::string severity = field(result, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity.empty()) severity = field(result, PG_DIAG_SEVERITY);
  std::string state = field(result, PG_DIAG_SQLSTATE);
  auto priority = priorityOf(severity, state);
  if (!logger.is(priority)) return;
  std::string text = "PostgreSQL " + (severity.empty() ? std::string("NOTICE") : severity) +
                     (state.empty() ? "" : " " + state) + ": " +
                     field(result, PG_DIAG_MESSAGE_PRIMARY);
  std::string detail = field(result, PG_DIAG_MESSAGE_DETAIL);
  std::string hint = field(result, PG_DIAG_MESSAGE_HINT);
  if (!detail.empty()) text += " (" + detail + ")";
  if (!hint.empty()) text += " (hint: " + hint + ")";
  logger.log(Poco::Message(logger.name(), text, priority));
}

}  // namespace

void routeNotices(PGconn* connection, Poco::Logger& logger) {
  PQsetNoticeReceiver(connection, &receive, &logger);
}

}  // namespace sql
