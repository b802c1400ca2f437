// file: reads JSON lines from a file or a glob of files (plain or .gz, e.g. GH Archive hours), in
// natural order. It remembers every file it has finished (with its size and modification time) and
// where it is inside the ones it has begun, so a later run with another glob reads exactly the
// files it has not read, in any order, and says how many it skipped. A file that changed after it
// was read is named in a warning. Damage inside a .gz file: every line before it is delivered;
// then the pipeline stops naming the file and byte (on_corrupt: fail), or the damage becomes a
// dead letter and the next file is read (on_corrupt: skip). A line longer than max_record_bytes is
// read through without being kept and becomes one dead letter holding its first bytes: memory is
// bounded by the configuration, not by what a file holds.
//
// `format: csv` (or tsv) turns each row into a JSON object of strings named by the header row or
// by `columns` (csv_rows.h); a row that cannot be one is a dead letter naming file and line.
// `path: "-"` reads standard input once: a pipe has no position to resume from, so it keeps no
// checkpoint.
#include <Poco/Glob.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "csv_rows.h"
#include "etl/sdk.h"
#include "file_names.h"
#include "finished_files.h"
#include "followed_files.h"
#include "line_reader.h"
#include "long_line.h"
#include "natural_order.h"

namespace {

using etl_file::Seen;
using etl_file::statFile;

// The first bytes of a file about to be read: a checkpoint's offset in it holds only for them.
etl_file::Fingerprint fingerprintNow(const std::string& path) {
  etl_file::Fingerprint out;
  auto seen = statFile(path);
  if (seen && seen->size > 0) {
    etl_file::fingerprintOf(
        path, static_cast<uint32_t>(std::min<int64_t>(seen->size, etl_file::kFingerprintBytes)),
        out);
  }
  return out;
}

using etl_file::decodeName;
using etl_file::encodeName;

int64_t nonNegative(const Poco::Dynamic::Var& value, const std::string& what) {
  int64_t n = 0;
  try {
    if (!value.isInteger()) throw etl::CheckpointError("");
    n = value.convert<int64_t>();
  } catch (const std::exception&) {
    throw etl::CheckpointError(what + " is not an integer");
  }
  if (n < 0) throw etl::CheckpointError(what + " is negative (" + std::to_string(n) + ")");
  return n;
}

class FileSource : public etl::Source {
 public:
  FileSource(const etl::Config& config, etl::Context& context)
      : context_(context),
        pattern_(config.getString("path")),
        stream_(config.getString("stream")),
        keyField_(config.has("key_field") ? config.getString("key_field") : ""),
        skipDamaged_(config.getString("on_corrupt") == "skip"),
        maxRecordBytes_(static_cast<uint64_t>(config.getInt("max_record_bytes"))),
        format_(config.getString("format")),
        header_(config.getString("header")),
        stdin_(pattern_ == "-"),
        follow_(config.getBool("follow")),
        pollInterval_(config.getDuration("poll_interval")) {
    const std::string& mode = config.getString("on_corrupt");
    if (mode != "fail" && mode != "skip") {
      throw std::runtime_error(config.location("on_corrupt") +
                               ": on_corrupt must be fail or skip, got '" + mode + "'");
    }
    check(config);
    if (follow_) {
      followed_ = std::make_unique<etl_file::FollowedFiles>(pattern_, context_.logger,
                                                            config.getDuration("rotate_wait"));
    }
    if (format_ != "json") {
      csv_.delimiter = format_ == "tsv" ? '\t' : ',';
      if (config.has("delimiter")) csv_.delimiter = config.getString("delimiter")[0];
      if (config.has("columns")) csv_.columns = config.getStringList("columns");
      csv_.maxBytes = maxRecordBytes_;
    }
  }

  // Keys that depend on each other, checked by `etlrun validate` too.
  static void check(const etl::Config& config) {
    const std::string& format = config.getString("format");
    const std::string& header = config.getString("header");
    auto fail = [&](const std::string& key, const std::string& what) {
      throw std::runtime_error(config.location(key) + ": " + what);
    };
    if (config.getBool("follow") && config.getString("path") == "-") {
      fail("follow",
           "follow: true reads files as they grow; standard input (path: \"-\") is "
           "read to its end anyway");
    }
    if (format == "json") {
      for (const char* key : {"delimiter", "columns"}) {
        if (config.has(key)) fail(key, std::string(key) + " applies to format: csv or tsv only");
      }
      return;
    }
    if (config.has("delimiter") && config.getString("delimiter").size() != 1) {
      fail("delimiter",
           "delimiter must be one character (a byte), got '" + config.getString("delimiter") + "'");
    }
    bool declared = config.has("columns") && !config.getStringList("columns").empty();
    if (header != "first" && !declared) {
      fail("header", "header: " + header + " needs columns: [...] (the names, in order)");
    }
    if (header == "first" && declared) {
      fail("columns",
           "columns are declared and header is first (the file's first row names them): use "
           "header: skip (the first row is a header, ignored) or header: none (every row is data)");
    }
  }

  void open(const std::string& checkpoint) override {
    if (stdin_) {
      // A pipe is read once, from wherever it starts: no position of an earlier run applies.
      todo_.push_back("-");
      context_.logger.information(
          "reading standard input: a pipe has no checkpoint, so every run stores what it is "
          "given (a key in the sink makes a repeated input harmless)");
      return;
    }
    if (follow_) {
      openFollowing(checkpoint);
      return;
    }
    readCheckpoint(checkpoint);
    std::set<std::string> found;
    Poco::Glob::glob(pattern_, found);
    std::vector<std::string> files(found.begin(), found.end());
    std::sort(files.begin(), files.end(), etl_file::naturalLess);
    if (files.empty()) throw std::runtime_error("no file matches '" + pattern_ + "'");
    std::set<std::string> read = finished_.readBefore(pattern_, files, context_.logger);
    std::size_t skipped = 0;
    for (const auto& file : files) {
      if (read.count(file)) {
        ++skipped;
      } else {
        todo_.push_back(file);
      }
    }
    std::string resume;
    for (const auto& [file, begun] : partial_) {
      uint64_t offset = begun.offset;
      bool matched = std::find(todo_.begin(), todo_.end(), file) != todo_.end();
      if (matched) {
        resume += ", resuming " + file + " at byte " + std::to_string(offset);
      } else {
        context_.logger.warning(file + " was read up to byte " + std::to_string(offset) +
                                " but no longer matches '" + pattern_ +
                                "': the rest of it is read when a glob matches it again");
      }
    }
    context_.metrics.gauge("files_planned", {{"pipeline", context_.pipeline}})
        .store(static_cast<int64_t>(todo_.size()));
    context_.logger.information(std::to_string(files.size()) + " file(s) match " + pattern_ + ": " +
                                std::to_string(skipped) + " already read (skipped), " +
                                std::to_string(todo_.size()) + " to read" + resume);
  }

  Poll poll(std::vector<etl::Record>& out, std::size_t maxRecords) override {
    if (follow_) return pollFollowing(out, maxRecords);
    std::size_t produced = 0;
    while (produced < maxRecords) {
      if (!reader_) {
        if (next_ >= todo_.size()) return {Status::Done, {}};
        openNext();
        if (!reader_) continue;  // damaged before its checkpoint, skipped
      }
      Stop stop = readLines(out, maxRecords, produced);
      if (stop == Stop::Yield) return {Status::More, {}};
      if (stop == Stop::End) {
        endRows();
        finishCurrent();
      }
    }
    return {Status::More, {}};
  }

  void drainDeadLetters(std::vector<etl::DeadLetter>& out) override {
    for (auto& letter : deadLetters_) out.push_back(std::move(letter));
    deadLetters_.clear();
  }

  std::string checkpoint() const override {
    if (stdin_) return {};
    if (follow_) {
      std::ostringstream out;
      followed_->checkpoint()->stringify(out);
      return out.str();
    }
    // The finished files change once a file, the offsets with every batch: only those are
    // written anew each time.
    if (finishedText_.empty() || finishedCount_ != finishedChanges_) {
      Poco::JSON::Object finished;
      finished_.storeInto(finished);
      std::ostringstream text;
      finished.stringify(text);
      finishedText_ = text.str();
      finishedText_.pop_back();  // its closing brace: the offsets follow
      finishedCount_ = finishedChanges_;
    }
    Poco::JSON::Object partial;
    for (const auto& [file, begun] : partial_) {
      Poco::JSON::Array entry;  // the offset, and the first bytes it holds for
      entry.add(begun.offset);
      entry.add(begun.fingerprint.length);
      entry.add(etl_file::hashText(begun.fingerprint.hash));
      partial.set(encodeName(file), entry);
    }
    std::ostringstream out;
    out << finishedText_ << (finishedText_.size() > 1 ? "," : "") << "\"partial\":";
    partial.stringify(out);
    out << "}";
    return out.str();
  }

 private:
  const std::string& current() const { return following_ ? following_->name : todo_[next_]; }

  // A following source resumes its files (found again by inode and first bytes by the first
  // scan); from a backfill's checkpoint (follow newly turned on), files known by name.
  void openFollowing(const std::string& checkpoint) {
    Poco::JSON::Object::Ptr state;
    if (!checkpoint.empty()) {
      try {
        state = Poco::JSON::Parser().parse(checkpoint).extract<Poco::JSON::Object::Ptr>();
      } catch (const std::exception&) {
        throw etl::CheckpointError("it is not a JSON object: '" + checkpoint.substr(0, 60) + "'");
      }
    }
    if (state && state->has("follow")) {
      try {
        followed_->restore(*state);
      } catch (const std::exception& e) {
        throw etl::CheckpointError(e.what());
      }
    } else if (state) {
      readCheckpoint(checkpoint);
      Poco::JSON::Object::Ptr known = new Poco::JSON::Object;
      Poco::JSON::Array list;
      auto add = [&](const std::string& name, uint64_t offset) {
        Poco::JSON::Object entry;
        Poco::JSON::Array fingerprint;
        fingerprint.add(0);
        fingerprint.add(std::string("0"));
        entry.set("name", encodeName(name));
        entry.set("device", 0);
        entry.set("inode", 0);
        entry.set("fingerprint", fingerprint);
        entry.set("offset", offset);
        list.add(entry);
      };
      std::set<std::string> matched;
      Poco::Glob::glob(pattern_, matched);
      std::vector<std::string> listing(matched.begin(), matched.end());
      std::sort(listing.begin(), listing.end(), etl_file::naturalLess);
      for (const auto& name : finished_.readBefore(pattern_, listing, context_.logger)) {
        add(name, static_cast<uint64_t>(statFile(name).value_or(Seen{0, 0, {}}).size));
      }
      for (const auto& [name, begun] : partial_) add(name, begun.offset);
      known->set("follow", list);
      followed_->restore(*known);
      finished_ = etl_file::FinishedFiles();
      partial_.clear();
    }
    context_.logger.information("following " + pattern_ +
                                ": files are read as they grow, new "
                                "ones as they appear (every " +
                                std::to_string(pollInterval_.count()) + " ms)");
  }
  std::string shownName() const { return stdin_ ? std::string("standard input") : current(); }

  // Past the line just read, whether kept or not (a pipe has nothing to resume).
  void markOffset() {
    if (following_) {
      following_->offset = reader_->offset();
    } else if (!stdin_) {
      partial_[current()] = {reader_->offset(), reading_.first};
    }
  }

  enum class Stop { End, Full, Yield };
  // Lines of the open file into records until it ends (for now), `out` is full, or a long line
  // was read through (Yield: back to the runner, which stops here when asked to).
  Stop readLines(std::vector<etl::Record>& out, std::size_t maxRecords, std::size_t& produced) {
    while (produced < maxRecords) {
      // The reader fills a buffer of the line's size with room for the record's padding: the
      // record adopts it, so the line's bytes are copied once, from the file's buffer.
      std::string line;
      etl_file::LineReader::Result read;
      try {
        read = reader_->next(line);
      } catch (const etl_file::DamagedInput& damage) {
        onDamage(damage, reader_->partialLine());  // throws unless skipping
        if (rows_) rows_->reset();                 // a row it cut is in the damaged stretch
        return Stop::End;
      }
      if (read == etl_file::LineReader::Result::End) return Stop::End;
      if (read == etl_file::LineReader::Result::TooLong) {
        if (rows_ && rows_->inRow()) {  // the row it belongs to is cut: it cannot be whole
          rowLetter(rows_->raw(), "a row cut by a line longer than max_record_bytes");
          rows_->reset();
        }
        markOffset();
        onTooLong(std::move(line));
        return Stop::Yield;
      }
      if (take(std::move(line), out)) ++produced;
    }
    return Stop::Full;
  }

  // One line: a record (true), part of a CSV row, or nothing (a blank line, a dead letter).
  bool take(std::string line, std::vector<etl::Record>& out) {
    if (rows_) {
      if (!rows_->inRow()) rowLine_ = reader_->lineNumber();
      std::string json, reason;
      auto outcome = rows_->add(line, json, reason);
      if (outcome == etl_file::CsvRows::Outcome::Pending) return false;  // no checkpoint in a row
      markOffset();
      if (outcome == etl_file::CsvRows::Outcome::Bad) rowLetter(rows_->lastRow(), reason);
      if (outcome != etl_file::CsvRows::Outcome::Row) return false;
      line = std::move(json);
    } else {
      markOffset();
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) return false;
    }
    etl::Record record(stream_, std::move(line));
    if (!keyField_.empty()) {
      try {
        if (auto key = record.find<std::string>(keyField_)) record.setKey(*key);
      } catch (const etl::FieldError&) {
        // A malformed line is not the source's business: the next stage dead-letters it.
      }
    }
    out.push_back(std::move(record));
    return true;
  }

  // The end of a file: a CSV row left open is a dead letter.
  void endRows() {
    std::string reason;
    if (rows_ && rows_->finish(reason) == etl_file::CsvRows::Outcome::Bad) {
      rowLetter(rows_->lastRow(), reason);
    }
  }

  // What a followed file's reading keeps between polls.
  struct Reading {
    std::unique_ptr<etl_file::LineReader> reader;
    std::unique_ptr<etl_file::CsvRows> rows;
    std::optional<uint64_t> rowLine;
  };

  // follow: true. Every poll_interval the glob is matched again (followed_files.h says what each
  // change means); between, the files are read as they grow, a line taken once its newline is
  // there. Idle when nothing has more.
  Poll pollFollowing(std::vector<etl::Record>& out, std::size_t maxRecords) {
    auto now = std::chrono::steady_clock::now();
    if (now >= nextScan_) {
      followed_->scan();
      nextScan_ = now + pollInterval_;
      context_.metrics.gauge("files_followed", {{"pipeline", context_.pipeline}})
          .store(static_cast<int64_t>(followed_->size()));
    }
    std::size_t produced = 0;
    for (etl_file::FollowedFile* file : followed_->readable()) {
      if (produced >= maxRecords) break;
      std::size_t before = produced;
      Stop stop = readFollowed(*file, out, maxRecords, produced);
      if (stop == Stop::Yield) return {Status::More, {}};
      if (produced > before) file->quietSince = std::chrono::steady_clock::now();
    }
    if (produced > 0) return {Status::More, {}};
    auto left =
        std::chrono::duration_cast<etl::Millis>(nextScan_ - std::chrono::steady_clock::now());
    return {Status::Idle, context_.clock.now() + std::max(left, etl::Millis(10))};
  }

  Stop readFollowed(etl_file::FollowedFile& file, std::vector<etl::Record>& out,
                    std::size_t maxRecords, std::size_t& produced) {
    auto reading = std::static_pointer_cast<Reading>(file.reading);
    if (file.reopen) {
      reading.reset();
      file.reopen = false;
    }
    if (!reading) {
      if (file.gone) {  // its name leads elsewhere: nothing more can be read of it
        followed_->forget(&file);
        return Stop::End;
      }
      reading = std::make_shared<Reading>();
      try {
        std::size_t kept =
            static_cast<std::size_t>(std::min<uint64_t>(etl_file::kKeptBytes, maxRecordBytes_));
        reading->reader = std::make_unique<etl_file::LineReader>(
            file.name, file.offset,
            etl_file::LineLimits{maxRecordBytes_, kept, etl::Record::kPadding, true});
      } catch (const std::exception& e) {
        // Gone between the scan and now, or cut: the next scan says what became of it.
        context_.logger.warning("cannot read " + file.name + " now: " + e.what());
        return Stop::End;
      }
      file.reading = reading;
      startRows(file.name, file.offset);  // sets rows_
      reading->rows = std::move(rows_);
      if (file.offset > 0)
        context_.logger.information("reading " + file.name + " from byte " +
                                    std::to_string(file.offset));
    }
    // The shared reading code works on the members: lend them this file's state.
    std::swap(reader_, reading->reader);
    std::swap(rows_, reading->rows);
    std::swap(rowLine_, reading->rowLine);
    following_ = &file;
    Stop stop;
    // Cut and written again while it is read (copy + truncate rotation between two scans): the
    // reader would go on inside the new content. What a pass read counts only if the file still
    // begins as it did after the pass; otherwise it is taken back and the next scan sees a cut.
    std::size_t outBefore = out.size(), producedBefore = produced;
    std::size_t lettersBefore = deadLetters_.size();
    uint64_t offsetBefore = file.offset;
    auto intact = [&] {
      if (file.fingerprint.length == 0) return true;
      char head[etl_file::kFingerprintBytes];
      std::size_t n = reader_->peek(0, head, file.fingerprint.length);
      return n == file.fingerprint.length &&
             etl_file::fingerprintOfBytes(head, n) == file.fingerprint;
    };
    try {
      stop = readLines(out, maxRecords, produced);
      if (!intact()) {
        out.erase(out.begin() + static_cast<std::ptrdiff_t>(outBefore), out.end());
        produced = producedBefore;
        deadLetters_.erase(deadLetters_.begin() + static_cast<std::ptrdiff_t>(lettersBefore),
                           deadLetters_.end());
        file.offset = offsetBefore;
        file.rewritten = true;
        stop = Stop::End;
        context_.logger.information(file.name +
                                    " was rewritten while it was read: what was "
                                    "just read of it is read again after the next scan");
      }
      if (stop == Stop::End && etl_file::isGzipName(file.name)) file.finished = true;  // no growth
      if (stop == Stop::End && file.gone && followed_->quietLongEnough(file)) {
        // Rotated away and quiet: its writer moved on. A line it left without a newline is
        // all there will be of it.
        std::string line;
        if (reader_->releasePartialLine(line) != etl_file::LineReader::Result::End &&
            take(std::move(line), out)) {
          ++produced;
        }
        endRows();
      }
    } catch (...) {
      std::swap(reader_, reading->reader);
      std::swap(rows_, reading->rows);
      std::swap(rowLine_, reading->rowLine);
      following_ = nullptr;
      throw;
    }
    std::swap(reader_, reading->reader);
    std::swap(rows_, reading->rows);
    std::swap(rowLine_, reading->rowLine);
    following_ = nullptr;
    if (stop == Stop::End && file.gone && followed_->quietLongEnough(file)) {
      file.reading.reset();
      followed_->forget(&file);
    }
    return stop;
  }

  // A CSV row that cannot be a record: a dead letter with its lines, file and first line.
  void rowLetter(const std::string& text, const std::string& reason) {
    std::string place = shownName() + (rowLine_ ? ", line " + std::to_string(*rowLine_) : "");
    etl::Record record(stream_, text);
    record.metadata()["file"] = shownName();
    if (rowLine_) record.metadata()["line"] = std::to_string(*rowLine_);
    deadLetters_.push_back({std::move(record), {}, reason + " (" + place + ")"});
  }

  // A fresh row parser for the file about to be read from `offset`; its header is read from the
  // file's start when reading resumes past it.
  void startRows(const std::string& path, uint64_t offset) {
    if (format_ == "json") return;
    etl_file::CsvOptions options = csv_;
    options.skipFirstRow = header_ == "skip";
    rows_ = std::make_unique<etl_file::CsvRows>(options);
    if (offset == 0 || header_ == "none") {
      if (offset > 0) rows_->pastHeader();
      return;
    }
    if (header_ == "skip") {
      rows_->pastHeader();
      return;
    }
    etl_file::LineReader head(path, 0, etl_file::LineLimits{maxRecordBytes_, 0, 0});
    std::string line, json, reason;
    while (head.next(line) == etl_file::LineReader::Result::Line) {
      auto outcome = rows_->add(line, json, reason);
      if (outcome == etl_file::CsvRows::Outcome::Header) return;
      if (outcome == etl_file::CsvRows::Outcome::Bad) break;
    }
    throw std::runtime_error(path + ": cannot read its header row to resume at byte " +
                             std::to_string(offset) + (reason.empty() ? "" : ": " + reason));
  }

  void readCheckpoint(const std::string& checkpoint) {
    if (checkpoint.empty()) return;
    Poco::JSON::Object::Ptr state;
    try {
      state = Poco::JSON::Parser().parse(checkpoint).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
      throw etl::CheckpointError("it is not a JSON object: '" + checkpoint.substr(0, 60) + "'");
    }
    if (state->has("done") && state->get("done").isBoolean()) {
      // The format before finished files were remembered: one file and an offset, every file
      // sorted before it finished.
      readHighWaterMark(*state);
      return;
    }
    auto done = state->getObject("done");
    auto partial = state->getObject("partial");
    if (!done || !partial) {
      throw etl::CheckpointError("it has no 'done' and 'partial' objects (not a file checkpoint)");
    }
    try {
      finished_.load(*state);
    } catch (const std::exception& e) {
      throw etl::CheckpointError(e.what());
    }
    for (const auto& name : partial->getNames()) {
      Begun begun;
      if (auto entry = partial->getArray(name)) {  // [offset, length, hash]
        if (entry->size() != 3) {
          throw etl::CheckpointError("partial['" + name + "'] is not [offset, length, hash]");
        }
        begun.offset = static_cast<uint64_t>(nonNegative(entry->get(0), "the offset in " + name));
        begun.fingerprint = {
            static_cast<uint32_t>(nonNegative(entry->get(1), "the fingerprint of " + name)),
            etl_file::hashFromText(entry->getElement<std::string>(2))};
      } else {  // an offset alone (before first bytes were kept)
        begun.offset =
            static_cast<uint64_t>(nonNegative(partial->get(name), "the offset in " + name));
      }
      partial_[decodeName(name)] = begun;
    }
  }

  void readHighWaterMark(const Poco::JSON::Object& state) {
    if (!state.has("file") || !state.get("file").isString()) {
      throw etl::CheckpointError("'file' is missing or not a string");
    }
    std::string file = state.getValue<std::string>("file");
    uint64_t offset = static_cast<uint64_t>(nonNegative(state.get("offset"), "'offset'"));
    std::set<std::string> found;
    Poco::Glob::glob(pattern_, found);
    for (const auto& f : found) {
      if (etl_file::naturalLess(f, file)) finished_.add(f, statFile(f).value_or(Seen{}));
    }
    if (state.getValue<bool>("done")) {
      finished_.add(file, statFile(file).value_or(Seen{}));
    } else {
      partial_[file] = {offset, {}};
    }
  }

  void openNext() {
    const std::string path = stdin_ ? "/dev/stdin" : current();
    auto at = partial_.find(path);
    uint64_t offset = at == partial_.end() ? 0 : at->second.offset;
    if (!stdin_) {
      reading_ = {statFile(path).value_or(Seen{}), fingerprintNow(path)};
      reading_.seen.fingerprint = reading_.first;
      const etl_file::Fingerprint& before =
          at == partial_.end() ? etl_file::Fingerprint{} : at->second.fingerprint;
      etl_file::Fingerprint now;
      if (offset > 0 && before.length > 0 &&
          (!etl_file::fingerprintOf(path, before.length, now) || !(now == before))) {
        // Another file under the same name (replaced while etlrun was stopped): its head would
        // be skipped if the old offset were taken.
        context_.logger.warning(path + " was replaced by another file since it was read to byte " +
                                std::to_string(offset) +
                                " (other first bytes): read from its start");
        offset = 0;
      }
    }
    try {
      // Of a line too long, a dead letter keeps no more than a record could hold.
      std::size_t kept =
          static_cast<std::size_t>(std::min<uint64_t>(etl_file::kKeptBytes, maxRecordBytes_));
      reader_ = std::make_unique<etl_file::LineReader>(
          path, offset, etl_file::LineLimits{maxRecordBytes_, kept, etl::Record::kPadding});
    } catch (const etl_file::DamagedInput& damage) {
      onDamage(damage, "");
      finishCurrent();
      return;
    } catch (const std::exception& e) {
      // It matched when the run began: a file that vanished or became unreadable does not come
      // back by waiting, and skipping it silently would lose it.
      throw std::runtime_error(std::string(e.what()) + " (it matched '" + pattern_ +
                               "' when the run began)");
    }
    startRows(path, offset);
    if (stdin_) return;
    context_.logger.information("reading file " + std::to_string(next_ + 1) + "/" +
                                std::to_string(todo_.size()) + ": " + path +
                                (offset ? " from byte " + std::to_string(offset) : ""));
  }

  void finishCurrent() {
    context_.metrics.counter(context_.pipeline + ".files_done").fetch_add(1);
    // How far behind this backfill is: the files it has still to read.
    context_.metrics.gauge("source_lag_files", {{"pipeline", context_.pipeline}})
        .store(static_cast<int64_t>(todo_.size() - next_ - 1));
    const std::string& path = current();
    // What was read (the open file as reading ended, its first bytes), whatever the name
    // leads to by now: a file renamed over it meanwhile is another file, read at the next start.
    if (!stdin_) {
      Seen seen = reading_.seen;
      if (reader_) {
        seen.size = static_cast<int64_t>(reader_->fileSize());
        seen.mtimeNs = reader_->fileModified();
      }
      finished_.add(path, seen);
      ++finishedChanges_;
    }
    partial_.erase(path);
    reader_.reset();
    rows_.reset();
    ++next_;
  }

  void onDamage(const etl_file::DamagedInput& damage, const std::string& partialLine) {
    if (!skipDamaged_) {
      // Every complete line before the damage was returned and is committed before the pipeline
      // stops (the runner delivers what a failing source read).
      throw std::runtime_error(std::string(damage.what()) +
                               ". To record it as a dead letter and go on with the next file, set "
                               "on_corrupt: skip");
    }
    std::string reason = std::string(damage.what()) + "; the rest of the file was skipped";
    context_.logger.warning(reason);
    etl::Record record(stream_, partialLine);
    record.metadata()["file"] = current();
    record.metadata()["file_offset"] = std::to_string(damage.fileOffset);
    record.metadata()["offset"] = std::to_string(damage.dataOffset);
    deadLetters_.push_back({std::move(record), {}, reason});
    context_.metrics.counter(context_.pipeline + ".files_damaged").fetch_add(1);
  }

  // A line longer than max_record_bytes: one dead letter; the reader has read past it, and so
  // has the checkpoint.
  void onTooLong(std::string head) {
    etl::DeadLetter letter =
        etl_file::longLineLetter(stream_, current(), *reader_, std::move(head), maxRecordBytes_);
    context_.logger.warning(letter.reason);
    deadLetters_.push_back(std::move(letter));
    context_.metrics.counter(context_.pipeline + ".lines_too_long").fetch_add(1);
  }

  etl::Context& context_;
  std::string pattern_, stream_, keyField_;
  bool skipDamaged_;
  uint64_t maxRecordBytes_;
  etl_file::FinishedFiles finished_;  // finished files (finished_files.h)
  struct Begun {
    uint64_t offset = 0;                // uncompressed bytes read
    etl_file::Fingerprint fingerprint;  // of the file that offset is in (length 0: not known)
  };
  std::map<std::string, Begun> partial_;  // begun, not finished
  uint64_t finishedChanges_ = 1;          // finished_ changed: its text is made again
  mutable uint64_t finishedCount_ = 0;
  mutable std::string finishedText_;
  struct {
    Seen seen;  // the file being read, as it was when opened
    etl_file::Fingerprint first;
  } reading_;
  std::vector<std::string> todo_;  // this run's files, in natural order
  std::size_t next_ = 0;           // index in todo_ of the file being read
  std::unique_ptr<etl_file::LineReader> reader_;
  std::vector<etl::DeadLetter> deadLetters_;
  std::string format_, header_;  // json, csv or tsv; first, skip or none
  const bool stdin_;             // path "-"
  etl_file::CsvOptions csv_;
  std::unique_ptr<etl_file::CsvRows> rows_;  // the CSV rows of the file being read
  std::optional<uint64_t> rowLine_;          // where the row being read began
  const bool follow_;
  etl::Millis pollInterval_;
  std::unique_ptr<etl_file::FollowedFiles> followed_;
  etl_file::FollowedFile* following_ = nullptr;  // the followed file being read, if any
  std::chrono::steady_clock::time_point nextScan_{};
};

const etl::ConfigField kSchema[] = {
    {"path", etl::Type::String, etl::Required, nullptr,
     "a file or a glob (data/2021-07-21-*.json.gz); .gz files are decompressed; \"-\" reads "
     "standard input once (zcat *.json.gz | etlrun p.yaml), keeping no checkpoint"},
    {"follow", etl::Type::Bool, etl::Optional, "false",
     "keep reading: files that match the glob later are picked up, a growing file is read as it "
     "grows (a line once its newline is there), rotation by rename or copy + truncate is followed; "
     "files are known by inode and their first bytes, not by name (with --once: what is there "
     "now)"},
    {"poll_interval", etl::Type::Duration, etl::Optional, "1s",
     "follow: how often the glob is matched again and files are checked for growth", "10ms", "1h"},
    {"rotate_wait", etl::Type::Duration, etl::Optional, "5s",
     "follow: a file rotated away is read until it has been quiet this long; a copy of a followed "
     "file is held this long in case the original is truncated (copy + truncate rotation)",
     "0s", "1h"},
    {"format", etl::Type::String, etl::Optional, "json",
     "json: a JSON value a line; csv or tsv: RFC 4180 rows (quoted fields, doubled quotes, line "
     "breaks inside quotes), each a JSON object of strings named by the columns, so the sql "
     "mapping and jq work on it unchanged; a row that cannot be one (a stray quote, another "
     "number of fields, bytes that are not UTF-8) is a dead letter naming file and line",
     nullptr, nullptr, "json|csv|tsv"},
    {"header", etl::Type::String, etl::Optional, "first",
     "csv/tsv: first (the first row names the columns), skip (it is a header, ignored: columns "
     "declared) or none (every row is data: columns declared)",
     nullptr, nullptr, "first|skip|none"},
    {"columns", etl::Type::StringList, etl::Optional, nullptr,
     "csv/tsv: the columns' names, in order, with header: skip or none"},
    {"delimiter", etl::Type::String, etl::Optional, nullptr,
     "csv/tsv: the field separator, one byte (default , for csv, a tab for tsv; ; for European "
     "exports)"},
    {"stream", etl::Type::String, etl::Optional, "events", "stream name given to every record"},
    {"key_field", etl::Type::String, etl::Optional, nullptr,
     "dotted JSON path whose value becomes the record key (e.g. id)"},
    {"on_corrupt", etl::Type::String, etl::Optional, "fail",
     "a damaged .gz file: fail (stop, naming file and byte, after storing every line before it) "
     "or skip (a dead letter naming file and byte, then the next file)",
     nullptr, nullptr, "fail|skip"},
    {"max_record_bytes", etl::Type::Int, etl::Optional, "16777216",
     "a line of more bytes than this (16 MiB; its newline not counted) is read through without "
     "being kept and becomes one dead letter holding its first 1024 bytes (fewer under a smaller "
     "limit), its length, file, line and byte; the file goes on with the next line. Bounds "
     "memory whatever a file holds (at most 1 GiB: no database stores a larger value)",
     "1", "1073741824"},
    {}};

}  // namespace

ETL_PLUGIN(FileSource, "file", etl::Kind::Source, "2.1.0",
           "JSON lines from files or a glob of files, plain or gzip; remembers every file it read",
           kSchema)
