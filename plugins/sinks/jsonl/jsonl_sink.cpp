// jsonl: writes each record's verbatim bytes as one line, to a file or to stdout ("-").
//
// For a file it is exactly-once: after appending a batch it records, atomically, the file's size
// together with the batch's checkpoint in "<path>.checkpoint". On start it cuts the file back to
// the committed size, dropping lines written after the last commit (a crash between the two
// writes), and hands that checkpoint to the source. kill -9 at any moment loses and repeats
// nothing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <set>
#include <sstream>

#include "etl/sdk.h"

namespace {

const std::string kSidecarMagic = "etlrun-jsonl-checkpoint 1";

class JsonlSink : public etl::Sink {
 public:
  JsonlSink(const etl::Config& config, etl::Context& context)
      : context_(context),
        path_(config.getString("path")),
        sync_(config.getBool("fsync")),
        envelope_(config.getString("format") == "envelope") {
    if (config.has("streams")) {
      const auto& streams = config.getStringList("streams");
      streams_.insert(streams.begin(), streams.end());
    }
    if (path_ == "-") return;
    sidecar_ = path_ + ".checkpoint";
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
    struct stat info {};
    ::fstat(fd_, &info);
    size_ = static_cast<uint64_t>(info.st_size);
    if (auto content = etl::readFileIfExists(sidecar_)) {
      std::istringstream in(*content);
      std::string magic, size;
      std::getline(in, magic);
      std::getline(in, size);
      if (magic != kSidecarMagic || size.empty() ||
          size.find_first_not_of("0123456789") != std::string::npos || size.size() > 19) {
        throw etl::CheckpointError(sidecar_ + " is not a jsonl checkpoint (" +
                                   (content->empty() ? "it is empty" : "damaged") +
                                   "); nothing was read or written. To start over, delete it and " +
                                   path_);
      }
      uint64_t committed = std::stoull(size);
      if (committed > size_) {
        throw etl::CheckpointError(sidecar_ + " says " + path_ + " holds " + size +
                                   " bytes, but it has " + std::to_string(size_) +
                                   ": the file was cut or replaced. To start "
                                   "over, delete both");
      }
      checkpoint_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (size_ > committed) {
        context_.logger.warning("dropping " + std::to_string(size_ - committed) +
                                " uncommitted bytes at the end of " + path_);
        if (::ftruncate(fd_, static_cast<off_t>(committed)) != 0) {
          throw std::runtime_error("cannot truncate " + path_ + ": " + std::strerror(errno));
        }
      }
      size_ = committed;
    } else {
      // First run on this file: commit its current size at once, so that a crash before the
      // first batch commits cuts the file back to here instead of keeping an uncommitted batch.
      if (size_ > 0)
        context_.logger.warning(path_ + " exists without a checkpoint: appending after it");
      commit(size_, "");
    }
    ::lseek(fd_, static_cast<off_t>(size_), SEEK_SET);
  }

  ~JsonlSink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  bool commitsCheckpoints() const override { return path_ != "-"; }
  std::string committedCheckpoint() override { return checkpoint_; }
  CheckpointLocation checkpointLocation() const override {
    return {sidecar_, "delete " + sidecar_ + " and " + path_};
  }

  void write(etl::Batch& batch) override {
    std::string lines;
    for (const auto& record : batch.records) {
      if (!streams_.empty() && !streams_.count(record.stream())) continue;
      if (envelope_) {
        // Where the record goes, beside it: to see what routing transforms do.
        lines += "{\"stream\":";
        etl::appendJsonString(lines, record.stream());
        lines += ",\"key\":";
        etl::appendJsonString(lines, record.key());
        lines += ",\"record\":";
        lines += record.raw();
        lines += "}\n";
        continue;
      }
      lines += record.raw();
      lines.push_back('\n');
    }
    if (path_ == "-") {
      std::cout << lines << std::flush;
      return;
    }
    // A retry after a partial write starts again from the committed size.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0 ||
        ::lseek(fd_, static_cast<off_t>(size_), SEEK_SET) < 0) {
      throw etl::RetryableError("cannot rewind " + path_ + ": " + std::strerror(errno));
    }
    etl::writeAll(fd_, lines, path_);
    if (sync_ && ::fdatasync(fd_) != 0) {
      throw etl::RetryableError("cannot sync " + path_ + ": " + std::strerror(errno));
    }
    uint64_t newSize = size_ + lines.size();
    commit(newSize, batch.checkpoint);
    size_ = newSize;
    checkpoint_ = batch.checkpoint;
  }

 private:
  void commit(uint64_t size, const std::string& checkpoint) {
    etl::writeFileAtomically(
        sidecar_, kSidecarMagic + "\n" + std::to_string(size) + "\n" + checkpoint, sync_);
  }

  etl::Context& context_;
  std::string path_, sidecar_;
  bool sync_;
  bool envelope_;
  std::set<std::string> streams_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string checkpoint_;
};

const etl::ConfigField kSchema[] = {
    {"path", etl::Type::String, etl::Optional, "-", "output file, or - for stdout"},
    {"streams", etl::Type::StringList, etl::Optional, nullptr,
     "write only records of these streams (default: all)"},
    {"format", etl::Type::String, etl::Optional, "raw",
     "raw: each record's bytes as they are; envelope: {\"stream\":...,\"key\":...,\"record\":"
     "<the bytes>} (the record must be JSON)",
     nullptr, nullptr, "raw|envelope"},
    {"fsync", etl::Type::Bool, etl::Optional, "true",
     "sync the file at each batch (durable across power loss, not only crashes)"},
    {}};

}  // namespace

ETL_PLUGIN(JsonlSink, "jsonl", etl::Kind::Sink, "1.0.0",
           "Writes records as JSON lines to a file (exactly-once) or stdout", kSchema)
