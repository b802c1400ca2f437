// jsonl: writes each record's verbatim bytes as one line, to a file or to stdout ("-").
//
// For a file it is exactly-once: after appending a batch it records, atomically, the file's size
// together with the batch's checkpoint in "<path>.checkpoint". On start it cuts the file back to
// the committed size, dropping lines written after the last commit (a crash between the two
// writes), and hands that checkpoint to the source. kill -9 at any moment loses and repeats
// nothing.
#include <Poco/File.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "etl/sdk.h"

namespace {

const std::string kSidecarMagic = "etlrun-jsonl-checkpoint 1";

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void writeAll(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw etl::RetryableError("cannot write " + path + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
}

class JsonlSink : public etl::Sink {
 public:
  JsonlSink(const etl::Config& config, etl::Context& context)
      : context_(context), path_(config.getString("path")), sync_(config.getBool("fsync")) {
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
    if (Poco::File(sidecar_).exists()) {
      std::istringstream in(readAll(sidecar_));
      std::string magic, size;
      std::getline(in, magic);
      std::getline(in, size);
      if (magic != kSidecarMagic) throw std::runtime_error(sidecar_ + " is not a jsonl checkpoint");
      uint64_t committed = std::stoull(size);
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

  void write(etl::Batch& batch) override {
    std::string lines;
    for (const auto& record : batch.records) {
      if (!streams_.empty() && !streams_.count(record.stream())) continue;
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
    writeAll(fd_, lines, path_);
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
    std::string temp = sidecar_ + ".tmp";
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw etl::RetryableError("cannot create " + temp + ": " + std::strerror(errno));
    writeAll(fd, kSidecarMagic + "\n" + std::to_string(size) + "\n" + checkpoint, temp);
    if (sync_) ::fsync(fd);
    ::close(fd);
    if (::rename(temp.c_str(), sidecar_.c_str()) != 0) {
      throw etl::RetryableError("cannot rename " + temp + ": " + std::strerror(errno));
    }
  }

  etl::Context& context_;
  std::string path_, sidecar_;
  bool sync_;
  std::set<std::string> streams_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string checkpoint_;
};

const etl::ConfigField kSchema[] = {
    {"path", etl::Type::String, etl::Optional, "-", "output file, or - for stdout"},
    {"streams", etl::Type::StringList, etl::Optional, nullptr,
     "write only records of these streams (default: all)"},
    {"fsync", etl::Type::Bool, etl::Optional, "true",
     "sync the file at each batch (durable across power loss, not only crashes)"},
    {}};

}  // namespace

ETL_PLUGIN(JsonlSink, "jsonl", etl::Kind::Sink, "1.0.0",
           "Writes records as JSON lines to a file (exactly-once) or stdout", kSchema)
