#include "rows.h"

#include <Poco/DigestEngine.h>
#include <Poco/MD5Engine.h>

#include <cstdio>
#include <ctime>
#include <map>

#include "etl/text.h"

namespace store {
namespace {

EventRow eventRow(const etl::Record& r) {
  EventRow row;
  row.eventId = r.get<std::string>("id");
  row.type = r.get<std::string>("type");
  row.actorId = r.find<int64_t>("actor.id");
  row.repoId = r.find<int64_t>("repo.id");
  row.createdAt = r.find<std::string>("created_at");
  return row;
}

PushRow pushRow(const etl::Record& r) {
  PushRow row;
  row.pushId = r.get<int64_t>("push_id");
  row.eventId = r.get<std::string>("event_id");
  row.repositoryId = r.get<int64_t>("repository_id");
  row.actorId = r.get<int64_t>("actor_id");
  row.ref = r.get<std::string>("ref");
  row.head = r.get<std::string>("head");
  row.before = r.find<std::string>("before");
  row.createdAt = r.get<std::string>("created_at");
  row.size = r.find<int64_t>("size");
  row.distinctSize = r.find<int64_t>("distinct_size");
  row.commitCount = r.find<int64_t>("commit_count");
  return row;
}

EntityRow entityRow(const etl::Record& r, EntityKind kind) {
  const auto& m = r.metadata();
  auto get = [&](const char* key) -> std::string {
    auto it = m.find(key);
    if (it == m.end()) throw etl::FieldError(std::string("metadata '") + key + "' is missing");
    return it->second;
  };
  EntityRow row;
  row.kind = kind;
  row.id = std::stoll(get("id"));
  row.name = get("name");
  row.etag = get("etag");
  row.fetchedAt = get("fetched_at");
  row.status = get("status");
  row.refreshOnly = get("refresh_only") == "true";
  if (!r.raw().empty()) {
    std::string invalid = r.jsonError();
    if (!invalid.empty()) throw etl::FieldError("invalid JSON: " + invalid);
    row.raw = r.raw();
  }
  return row;
}

EnrichmentRow enrichmentRow(const etl::Record& r) {
  EnrichmentRow row;
  row.pushId = r.get<int64_t>("push_id");
  row.status = r.get<std::string>("status");
  row.attempts = r.get<int64_t>("attempts");
  row.nextAttemptAt = r.find<std::string>("next_attempt_at");
  row.error = r.find<std::string>("error");
  return row;
}

}  // namespace

etl::Record entityRecord(const Streams& streams, const EntityRow& row) {
  etl::Record record(row.kind == EntityKind::Actor ? streams.actors : streams.repositories,
                     row.raw.value_or(""), std::to_string(row.id));
  auto& m = record.metadata();
  m["id"] = std::to_string(row.id);
  m["name"] = row.name;
  m["etag"] = row.etag;
  m["fetched_at"] = row.fetchedAt;
  m["status"] = row.status;
  m["refresh_only"] = row.refreshOnly ? "true" : "false";
  return record;
}

etl::Record enrichmentRecord(const Streams& streams, const EnrichmentRow& row) {
  std::string json = "{\"push_id\":" + std::to_string(row.pushId) + ",\"status\":";
  etl::appendJsonString(json, row.status);
  json += ",\"attempts\":" + std::to_string(row.attempts);
  if (row.nextAttemptAt) {
    json += ",\"next_attempt_at\":";
    etl::appendJsonString(json, *row.nextAttemptAt);
  }
  if (row.error) {
    json += ",\"error\":";
    etl::appendJsonString(json, *row.error);
  }
  json += "}";
  return etl::Record(streams.enrichment, json, std::to_string(row.pushId));
}

Rows splitBatch(etl::Batch& batch, const Streams& streams) {
  Rows rows;
  std::vector<etl::Record> kept;
  kept.reserve(batch.records.size());
  std::vector<std::size_t> eventIndex, pushIndex;    // rows.events[i] is kept[eventIndex[i]]
  std::map<std::string, std::string> refusedEvents;  // event id -> why it was not stored
  for (auto& record : batch.records) {
    const std::string& stream = record.stream();
    bool isEvent = stream == streams.events;
    bool known = isEvent || stream == streams.pushes || stream == streams.actors ||
                 stream == streams.repositories || stream == streams.enrichment;
    if (!known) {
      batch.reject(std::move(record), "no table for stream '" + stream + "'");
      continue;
    }
    try {
      if (stream == streams.actors || stream == streams.repositories) {
        rows.entities.push_back(entityRow(
            record, stream == streams.actors ? EntityKind::Actor : EntityKind::Repository));
      } else if (stream == streams.enrichment) {
        rows.enrichment.push_back(enrichmentRow(record));
      } else if (isEvent) {
        std::string invalid = record.jsonError();
        if (!invalid.empty()) throw etl::FieldError("invalid JSON: " + invalid);
        rows.events.push_back(eventRow(record));
        eventIndex.push_back(kept.size());
      } else {
        rows.pushes.push_back(pushRow(record));
        pushIndex.push_back(kept.size());
      }
    } catch (const std::exception& e) {  // FieldError, or a malformed id in metadata
      if (isEvent) {
        try {
          if (auto id = record.find<std::string>("id")) refusedEvents[*id] = e.what();
        } catch (const etl::FieldError&) {
          // Unreadable: nothing can have been derived from it either.
        }
      }
      batch.reject(std::move(record), e.what());
      continue;
    }
    kept.push_back(std::move(record));
  }
  // A derived row never goes in without its raw event.
  if (!refusedEvents.empty()) {
    std::vector<PushRow> pushes;
    std::vector<std::size_t> index;
    std::vector<bool> drop(kept.size(), false);
    for (std::size_t i = 0; i < rows.pushes.size(); ++i) {
      auto refused = refusedEvents.find(rows.pushes[i].eventId);
      if (refused == refusedEvents.end()) {
        pushes.push_back(std::move(rows.pushes[i]));
        index.push_back(pushIndex[i]);
        continue;
      }
      drop[pushIndex[i]] = true;
      batch.reject(kept[pushIndex[i]],
                   "its raw event " + refused->first + " was not stored (" + refused->second + ")");
    }
    rows.pushes = std::move(pushes);
    std::vector<etl::Record> remaining;
    std::vector<std::size_t> newPosition(kept.size());
    for (std::size_t i = 0; i < kept.size(); ++i) {
      newPosition[i] = remaining.size();
      if (!drop[i]) remaining.push_back(std::move(kept[i]));
    }
    for (auto& i : eventIndex) i = newPosition[i];
    for (auto& i : index) i = newPosition[i];
    pushIndex = std::move(index);
    kept = std::move(remaining);
  }
  batch.records = std::move(kept);
  for (std::size_t i = 0; i < rows.events.size(); ++i) {
    rows.events[i].raw = &batch.records[eventIndex[i]].raw();
  }
  for (std::size_t i = 0; i < rows.pushes.size(); ++i) {
    rows.pushes[i].raw = &batch.records[pushIndex[i]].raw();
  }
  return rows;
}

DeadLetterRow deadLetterRow(const etl::DeadLetter& letter) {
  const std::string& raw = letter.record.raw();
  DeadLetterRow row{
      letter.plugin,          letter.record.stream(), etl::storableText(letter.reason),
      etl::storableText(raw), std::nullopt,           {}};
  if (!etl::isStorableText(raw)) row.recordBytes = raw;
  Poco::MD5Engine md5;
  // The same record refused by the same plugin for the same reason is one dead letter, whichever
  // pipeline or replay met it.
  const std::string* parts[] = {&row.plugin, &row.stream, &letter.reason, &raw};
  for (const std::string* part : parts) {
    md5.update(*part);
    md5.update('\0');
  }
  row.fingerprint = Poco::DigestEngine::digestToHex(md5.digest());
  return row;
}

}  // namespace store
