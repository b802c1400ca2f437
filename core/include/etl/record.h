// etl/record.h: one unit of data flowing through a pipeline.
//
// A Record keeps the bytes it was read with verbatim (raw storage never re-serialises) and offers a
// typed, lazily parsed view of them as JSON. The view is the hot path of every pipeline, so it is
// backed by simdjson's on-demand parser: only the fields asked for are decoded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace etl {

// Thrown by Record::get/find for a missing field, a field of another type, or invalid JSON.
class FieldError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Record {
 public:
  // Spare capacity the JSON view reads past the end of `raw`. A raw string built with at least
  // this much spare capacity is adopted as is; otherwise the record reallocates once.
  static constexpr std::size_t kPadding = 64;

  Record() = default;
  // `stream` names the table/topic the record belongs to (e.g. "github_events"); `raw` is the
  // record's bytes, normally one JSON document; `key` is an optional identity (e.g. the event id).
  Record(std::string stream, std::string raw, std::string key = {});
  Record(const Record& other);
  Record& operator=(const Record& other);
  Record(Record&&) noexcept = default;
  Record& operator=(Record&&) noexcept = default;

  const std::string& stream() const { return stream_; }
  void setStream(std::string stream) { stream_ = std::move(stream); }
  const std::string& key() const { return key_; }
  void setKey(std::string key) { key_ = std::move(key); }
  // The bytes are immutable and shared: copies of a record (the runner keeps the source's batch
  // for a retry, dead letters keep their record) cost no copy of them.
  const std::string& raw() const { return raw_ ? *raw_ : empty(); }
  // Free-form annotations (source file, offset, HTTP ETag ...), never stored by default.
  std::map<std::string, std::string>& metadata() { return metadata_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The input record a transform made this one from (the record as the source read it), or null.
  // The records made from one input are one unit: a sink stores all of their rows or none, and a
  // dead letter about any of them holds the input itself (with every reason), so that a replay
  // runs it through the transforms again. See etl::settleOrigins (batch.h).
  const std::shared_ptr<const Record>& origin() const { return origin_; }
  void setOrigin(std::shared_ptr<const Record> origin) { origin_ = std::move(origin); }
  // What a record made from `input` takes as its origin: the input's own origin when it has one
  // (a chain of transforms keeps the record the source read), else a copy of the input.
  static std::shared_ptr<const Record> originOf(const Record& input);

  // Typed access by dotted path ("payload.push_id", "commits.0.sha"). T is one of int64_t,
  // uint64_t, double, bool, std::string. get() throws FieldError naming the path when the field is
  // missing, null or of another type; find() returns nullopt for missing or null and still throws
  // for a wrong type or invalid JSON.
  template <class T>
  T get(std::string_view path) const;
  template <class T>
  std::optional<T> find(std::string_view path) const;
  bool has(std::string_view path) const;
  // The field as text, the way a database's input function reads it: a string unescaped, a number
  // or boolean as written, an object or array as its JSON; nullopt when missing or null. Throws
  // FieldError for invalid JSON or a parent that is not an object or array.
  std::optional<std::string> text(std::string_view path) const;
  // Number of elements of an array (or members of an object); nullopt if missing, null or scalar.
  std::optional<std::size_t> count(std::string_view path) const;

  // Full validation of the document (find/get only look at what they need). Returns an empty
  // string when valid, otherwise the reason. A valid document is kept parsed: text() calls on the
  // same record that follow on this thread read it without parsing again.
  std::string jsonError() const;

 private:
  static std::string padded(std::string raw);
  static const std::string& empty();
  // Identifies these bytes for the parse cache: raw_ never changes after construction, and a
  // copy gets a new identity. Several lookups on one record then cost a single parse.
  uint64_t identity_ = 0;
  std::string stream_;
  std::shared_ptr<const std::string> raw_;
  std::string key_;
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<const Record> origin_;
};

extern template int64_t Record::get<int64_t>(std::string_view) const;
extern template uint64_t Record::get<uint64_t>(std::string_view) const;
extern template double Record::get<double>(std::string_view) const;
extern template bool Record::get<bool>(std::string_view) const;
extern template std::string Record::get<std::string>(std::string_view) const;
extern template std::optional<int64_t> Record::find<int64_t>(std::string_view) const;
extern template std::optional<uint64_t> Record::find<uint64_t>(std::string_view) const;
extern template std::optional<double> Record::find<double>(std::string_view) const;
extern template std::optional<bool> Record::find<bool>(std::string_view) const;
extern template std::optional<std::string> Record::find<std::string>(std::string_view) const;

// Appends `text` to `out` as a JSON string literal (quotes and escapes included). For plugins that
// build small JSON documents on the hot path without a DOM.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace etl
