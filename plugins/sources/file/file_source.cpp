// file: reads JSON lines from a file or a glob of files (plain or .gz, e.g. GH Archive hours), in
// natural order. Checkpoint = current file + byte offset (uncompressed), so a restart resumes
// exactly after the last committed line.
#include <Poco/File.h>
#include <Poco/Glob.h>
#include <Poco/InflatingStream.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

#include "etl/sdk.h"
#include "natural_order.h"

namespace {

class FileSource : public etl::Source {
 public:
  FileSource(const etl::Config& config, etl::Context& context)
      : context_(context),
        pattern_(config.getString("path")),
        stream_(config.getString("stream")),
        keyField_(config.has("key_field") ? config.getString("key_field") : "") {}

  void open(const std::string& checkpoint) override {
    std::set<std::string> found;
    Poco::Glob::glob(pattern_, found);
    files_.assign(found.begin(), found.end());
    std::sort(files_.begin(), files_.end(), etl_file::naturalLess);
    if (files_.empty()) {
      throw std::runtime_error("no file matches '" + pattern_ + "'");
    }
    if (!checkpoint.empty()) {
      auto state = Poco::JSON::Parser().parse(checkpoint).extract<Poco::JSON::Object::Ptr>();
      std::string file = state->getValue<std::string>("file");
      offset_ = state->getValue<uint64_t>("offset");
      bool done = state->optValue<bool>("done", false);
      // Files sorted before the checkpoint's are finished; resume inside the checkpoint's file.
      index_ = static_cast<std::size_t>(
          std::lower_bound(files_.begin(), files_.end(), file, etl_file::naturalLess) -
          files_.begin());
      if (index_ >= files_.size() || files_[index_] != file) {
        context_.logger.warning("checkpoint file " + file +
                                " no longer matches; continuing after it");
        offset_ = 0;
      } else if (done) {
        ++index_, offset_ = 0;
      }
    }
    context_.logger.information(std::to_string(files_.size()) + " file(s) match " + pattern_ +
                                (index_ > 0 || offset_ > 0
                                     ? ", resuming at file " + std::to_string(index_ + 1) +
                                           " offset " + std::to_string(offset_)
                                     : ""));
  }

  Poll poll(std::vector<etl::Record>& out, std::size_t maxRecords) override {
    std::size_t produced = 0;
    std::string line;
    while (produced < maxRecords) {
      if (!input_ && !openCurrent()) return {Status::Done, {}};
      if (!std::getline(*input_, line)) {
        if (input_->bad()) throw std::runtime_error("read error in " + files_[index_]);
        finishCurrent();
        continue;
      }
      offset_ += line.size() + (input_->eof() ? 0 : 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      // One exact allocation per record; `line` keeps its buffer for the next getline.
      std::string raw;
      raw.reserve(line.size() + etl::Record::kPadding);
      raw.assign(line);
      etl::Record record(stream_, std::move(raw));
      if (!keyField_.empty()) {
        try {
          if (auto key = record.find<std::string>(keyField_)) record.setKey(*key);
        } catch (const etl::FieldError&) {
          // A malformed line is not the source's business: the next stage dead-letters it.
        }
      }
      out.push_back(std::move(record));
      ++produced;
    }
    return {Status::More, {}};
  }

  std::string checkpoint() const override {
    if (files_.empty()) return {};
    Poco::JSON::Object state;
    bool finished = index_ >= files_.size();
    state.set("file", finished ? files_.back() : files_[index_]);
    state.set("offset", offset_);
    state.set("done", finished || doneCurrent_);
    std::ostringstream out;
    state.stringify(out);
    return out.str();
  }

 private:
  bool openCurrent() {
    if (index_ >= files_.size()) return false;
    const std::string& path = files_[index_];
    file_ = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!*file_) throw etl::RetryableError("cannot open " + path);
    bool gzip = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
    if (gzip) {
      inflater_ = std::make_unique<Poco::InflatingInputStream>(
          *file_, Poco::InflatingStreamBuf::STREAM_GZIP);
      input_ = inflater_.get();
      // Compressed files cannot seek: skip what was already committed.
      std::vector<char> skip(1 << 16);
      uint64_t left = offset_;
      while (left > 0 && input_->read(skip.data(), std::min<uint64_t>(left, skip.size()))) {
        left -= static_cast<uint64_t>(input_->gcount());
      }
      if (left > 0) throw std::runtime_error(path + " is shorter than its checkpoint offset");
    } else {
      file_->seekg(static_cast<std::streamoff>(offset_));
      input_ = file_.get();
    }
    doneCurrent_ = false;
    context_.logger.information("reading file " + std::to_string(index_ + 1) + "/" +
                                std::to_string(files_.size()) + ": " + path);
    return true;
  }

  void finishCurrent() {
    context_.metrics.counter(context_.pipeline + ".files_done").fetch_add(1);
    input_ = nullptr;
    inflater_.reset();
    file_.reset();
    if (index_ + 1 < files_.size()) {
      ++index_;
      offset_ = 0;
    } else {
      doneCurrent_ = true;  // stay on the last file, marked done, so the checkpoint says so
      index_ = files_.size();
    }
  }

  etl::Context& context_;
  std::string pattern_, stream_, keyField_;
  std::vector<std::string> files_;
  std::size_t index_ = 0;
  uint64_t offset_ = 0;
  bool doneCurrent_ = false;
  std::unique_ptr<std::ifstream> file_;
  std::unique_ptr<Poco::InflatingInputStream> inflater_;
  std::istream* input_ = nullptr;
};

const etl::ConfigField kSchema[] = {
    {"path", etl::Type::String, etl::Required, nullptr,
     "a file or a glob (data/2021-07-21-*.json.gz); .gz files are decompressed"},
    {"stream", etl::Type::String, etl::Optional, "events", "stream name given to every record"},
    {"key_field", etl::Type::String, etl::Optional, nullptr,
     "dotted JSON path whose value becomes the record key (e.g. id)"},
    {}};

}  // namespace

ETL_PLUGIN(FileSource, "file", etl::Kind::Source, "1.0.0",
           "JSON lines from files or a glob of files, plain or gzip; resumes at a byte offset",
           kSchema)
