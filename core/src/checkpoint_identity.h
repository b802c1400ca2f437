// What a checkpoint belongs to. Every checkpoint the core hands to a store (a sink's table or
// topic, the state file) carries the identity of the pipeline that wrote it: its source and its
// sink, each as the plugin and the values of its identity keys (PluginDescriptor::identity): the
// feed a source polls, the tables a sink writes. At start, a checkpoint another pipeline wrote is
// refused: two pipeline files with one pipeline name and one database would otherwise share it,
// and the second would skip what the first read, into tables the first never wrote.
//
// The stored form (the source's own checkpoint text kept byte for byte):
//   {"position":<the source's checkpoint>,
//    "etl_written_by":{"sink":{"plugin":"sql","tables":["events"]},"source":{"plugin":"file"}}}
// and for a partitioned checkpoint (a JSON object of parts) one more part, stored like the others:
//   {"etl_written_by":{...},"events/0":17,"events/1":9}
#pragma once

#include <optional>
#include <string>

#include "pipeline_spec.h"

namespace etl {

// The identity of `pipeline` as canonical JSON text (keys sorted, no spaces; of a URL only scheme,
// host, port and path, nothing of a credential): what is stored and compared. A Document key (a
// sink's `tables:`) counts by what its entries name: an entry's `table:`, else its name.
std::string pipelineIdentity(const PipelineSpec& pipeline);

// An identity is shown in logs and stored beside data: nothing of a credential goes into it. A
// URL keeps its scheme, host, port and path (no user, password or query: a token may sit in any
// of them); a libpq keyword string keeps host, hostaddr, port and dbname; other text is kept.
std::string withoutSecrets(const std::string& text);

// True when `key` is among `identity` (a descriptor's list, nullptr-terminated; may be nullptr).
bool isIdentityKey(const char* const* identity, const std::string& key);
// Appended to an identity key's documentation (schema, `etlrun plugins NAME`).
extern const char* const kIdentityKeyNote;

// `identity` for people: file -> sql (tables: ["events"]).
std::string describeIdentity(const std::string& identity);

// True when two identities (canonical or as stored) name the same source.
bool sameIdentity(const std::string& a, const std::string& b);

struct StoredCheckpoint {
  std::optional<std::string> identity;  // none: written before etlrun recorded identities
  std::string position;                 // the source's own checkpoint
};

// Splits what a store holds. A checkpoint without an identity (an earlier etlrun's, or "") is
// returned whole as the position. Throws CheckpointError for a partitioned checkpoint that is not
// a JSON object.
StoredCheckpoint splitCheckpoint(const std::string& stored, bool partitioned);

// The source's `position` with `identity`, as stored; "" stays "" (nothing to store).
std::string stampCheckpoint(const std::string& identity, const std::string& position,
                            bool partitioned);

}  // namespace etl
