#include "push_event_row.h"

namespace push_events {
namespace {

void addNumber(std::string& row, const char* name, int64_t value) {
  row += ",\"";
  row += name;
  row += "\":";
  row += std::to_string(value);
}

void addString(std::string& row, const char* name, const std::string& value) {
  row += ",\"";
  row += name;
  row += "\":";
  etl::appendJsonString(row, value);
}

}  // namespace

std::string rowFromEvent(const etl::Record& event) {
  // Required: what identifies the push and what enrichment needs.
  int64_t pushId = event.get<int64_t>("payload.push_id");
  std::string eventId = event.get<std::string>("id");
  int64_t actorId = event.get<int64_t>("actor.id");
  // The newest payloads carry the repository id; older ones only have repo.id.
  auto repositoryId = event.find<int64_t>("payload.repository_id");
  if (!repositoryId) repositoryId = event.get<int64_t>("repo.id");
  std::string ref = event.get<std::string>("payload.ref");
  std::string head = event.get<std::string>("payload.head");
  // Payloads before ~2013 (the 2012 events API) have no `before`: stored as NULL.
  auto before = event.find<std::string>("payload.before");
  std::string createdAt = event.get<std::string>("created_at");
  // What enrichment asks the API with, so its work queue needs no join.
  auto login = event.find<std::string>("actor.login");
  auto repoName = event.find<std::string>("repo.name");

  std::string row = "{\"push_id\":" + std::to_string(pushId);
  addString(row, "event_id", eventId);
  addNumber(row, "repository_id", *repositoryId);
  addNumber(row, "actor_id", actorId);
  addString(row, "ref", ref);
  addString(row, "head", head);
  if (before) addString(row, "before", *before);
  addString(row, "created_at", createdAt);
  if (login) addString(row, "actor_login", *login);
  if (repoName) addString(row, "repo_name", *repoName);
  // Optional: gone from the API since 2025-10-07, present in GH Archive history.
  if (auto size = event.find<int64_t>("payload.size")) addNumber(row, "size", *size);
  if (auto distinct = event.find<int64_t>("payload.distinct_size")) {
    addNumber(row, "distinct_size", *distinct);
  }
  if (auto commits = event.count("payload.commits")) {
    addNumber(row, "commit_count", static_cast<int64_t>(*commits));
  }
  row += "}";
  return row;
}

}  // namespace push_events
