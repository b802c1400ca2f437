#include "rows.h"

#include <Poco/DigestEngine.h>
#include <Poco/MD5Engine.h>

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
  row.before = r.get<std::string>("before");
  row.createdAt = r.get<std::string>("created_at");
  row.size = r.find<int64_t>("size");
  row.distinctSize = r.find<int64_t>("distinct_size");
  row.commitCount = r.find<int64_t>("commit_count");
  return row;
}

}  // namespace

Rows splitBatch(etl::Batch& batch, const Streams& streams) {
  Rows rows;
  std::vector<etl::Record> kept;
  kept.reserve(batch.records.size());
  std::vector<std::size_t> eventIndex;  // rows.events[i] is kept[eventIndex[i]]
  for (auto& record : batch.records) {
    bool isEvent = record.stream() == streams.events;
    if (!isEvent && record.stream() != streams.pushes) {
      batch.reject(std::move(record), "no table for stream '" + record.stream() + "'");
      continue;
    }
    try {
      if (isEvent) {
        std::string invalid = record.jsonError();
        if (!invalid.empty()) throw etl::FieldError("invalid JSON: " + invalid);
        rows.events.push_back(eventRow(record));
        eventIndex.push_back(kept.size());
      } else {
        rows.pushes.push_back(pushRow(record));
      }
    } catch (const etl::FieldError& e) {
      batch.reject(std::move(record), e.what());
      continue;
    }
    kept.push_back(std::move(record));
  }
  batch.records = std::move(kept);
  for (std::size_t i = 0; i < rows.events.size(); ++i) {
    rows.events[i].raw = &batch.records[eventIndex[i]].raw();
  }
  return rows;
}

DeadLetterRow deadLetterRow(const etl::DeadLetter& letter) {
  DeadLetterRow row{letter.plugin, letter.record.stream(), letter.reason, letter.record.raw(), {}};
  Poco::MD5Engine md5;
  // The same record refused by the same plugin for the same reason is one dead letter, whichever
  // pipeline or replay met it.
  const std::string* parts[] = {&row.plugin, &row.stream, &row.reason, &row.record};
  for (const std::string* part : parts) {
    md5.update(*part);
    md5.update('\0');
  }
  row.fingerprint = Poco::DigestEngine::digestToHex(md5.digest());
  return row;
}

}  // namespace store
