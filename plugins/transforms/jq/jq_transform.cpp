// jq: transforms records with a jq program written in the pipeline file (libjq 1.6, the language
// users of JSON tools already know). Each output of the program is one record, in place of its
// input and in order: no output drops the record, several make several (`.items[] | {...}`). An
// object output may route itself: `_stream` names its stream and `_key` its key, and both are
// removed from the record; only when the program's text names them, so that data passed on whole
// (`.`, `select(...)`) never chooses its own table. Every record made from one input keeps that
// input as its origin: a sink stores all of their rows or none, and a dead letter holds the input
// (etl::Record::origin).
//
// Why processes: libjq cannot be interrupted, caps no memory, and has crashed on hostile inputs
// in the past. Each worker (etl_jq_worker, beside this library) runs the program for a share of
// the batch; a record that runs past `timeout`, takes more than `max_memory_mib` or crashes the
// worker becomes that record's dead letter, and a fresh worker takes the rest. It also puts the
// program on other cores than the pipeline's own threads.
#include <Poco/File.h>
#include <Poco/Path.h>
#include <dlfcn.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "etl/sdk.h"
#include "jq_workers.h"
#include "wire.h"

namespace {

// The program's text, from the YAML or its file; where its lines are, for error messages.
struct Source {
  std::string text;
  std::string file;  // "" when written in the YAML
};

// Whether `program` holds nothing but blanks and comments (jq 1.6 would run it as `.`).
bool empty(const std::string& program) {
  std::istringstream lines(program);
  for (std::string line; std::getline(lines, line);) {
    std::size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos && line[first] != '#') return false;
  }
  return true;
}

Source programOf(const etl::Config& config) {
  bool inline_ = config.has("program"), file = config.has("program_file");
  if (inline_ == file) {
    throw std::runtime_error(
        "set exactly one of program (the jq program itself) and program_file (a .jq file next to "
        "the pipeline file)");
  }
  if (inline_) {
    std::string text = config.getString("program");
    if (empty(text)) {
      throw std::runtime_error(config.valueLocation("program") +
                               ": the program is empty (write `.` to pass records on unchanged)");
    }
    return {text, ""};
  }
  std::string path = config.getString("program_file");
  std::ifstream in(path, std::ios::binary);
  if (!in || !Poco::File(path).isFile()) {
    throw std::runtime_error(config.location("program_file") + ": cannot read program_file " +
                             path + (in ? " (not a file)" : ""));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (empty(text.str())) {
    throw std::runtime_error(config.location("program_file") + ": the program in " + path +
                             " is empty (write `.` to pass records on unchanged)");
  }
  return {text.str(), path};
}

// A compile error's place: its line in the program file, or in the YAML.
std::string compileErrors(const etl::Config& config, const Source& source,
                          const std::string& answer) {
  std::string message;
  std::istringstream lines(answer);
  for (std::string line; std::getline(lines, line);) {
    std::size_t colon = line.find(':');
    std::size_t at = 0;
    try {
      at = colon == std::string::npos ? 0 : std::stoul(line.substr(0, colon));
    } catch (const std::exception&) {
      colon = std::string::npos;
    }
    std::string text = colon == std::string::npos ? line : line.substr(colon + 1);
    std::string where = source.file.empty()
                            ? config.valueLocation("program", at ? at : 1)
                            : source.file + ":" + std::to_string(at ? at : 1) + ":1";
    message += (message.empty() ? "" : "\n") + where + ": jq: " + text;
  }
  return message.empty() ? config.location("program") + ": jq: the program does not compile"
                         : message;
}

// Where import and include look: the program file's folder (an inline program has none).
std::string originOf(const Source& source) {
  return source.file.empty() ? "/nonexistent/etlrun-jq-inline-program"
                             : Poco::Path(source.file).parent().toString(Poco::Path::PATH_UNIX);
}

// etl_jq_worker lives beside this library, wherever it was installed.
std::string workerExecutable() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&workerExecutable), &info) || !info.dli_fname) {
    throw std::runtime_error("jq: cannot tell where libetl_jq.so is");
  }
  std::string path = Poco::Path(info.dli_fname).parent().toString() + "etl_jq_worker";
  if (!Poco::File(path).exists()) {
    throw std::runtime_error("jq: the worker program " + path +
                             " is missing: it is built and installed with the plugin");
  }
  return path;
}

std::size_t defaultWorkers() {
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 8);
}

class JqTransform : public etl::Transform {
 public:
  JqTransform(const etl::Config& config, etl::Context& context)
      : context_(context),
        stream_(config.has("stream") ? config.getString("stream") : ""),
        outputs_(context.metrics.counter(context.pipeline + ".jq_outputs")),
        dropped_(context.metrics.counter(context.pipeline + ".jq_dropped")),
        failed_(context.metrics.counter(context.pipeline + ".jq_errors")) {
    if (config.has("streams")) {
      const auto& streams = config.getStringList("streams");
      streams_.insert(streams.begin(), streams.end());
    }
    if (config.has("match")) {
      for (const auto& [field, values] : config.getStringListMap("match")) {
        match_.emplace_back(field, std::set<std::string>(values.begin(), values.end()));
      }
    }
    std::size_t workers = config.has("workers") ? static_cast<std::size_t>(config.getInt("workers"))
                                                : defaultWorkers();
    workers_ = startWorkers(config, workers, context.logger);
  }

  // The program compiles (in a worker: see jq_compile.h), or a mistake at its file:line:column.
  static void check(const etl::Config& config) { startWorkers(config, 1, Poco::Logger::get("jq")); }

  void apply(etl::Batch& batch) override {
    std::vector<const std::string*> inputs;
    std::vector<char> mine(batch.records.size());  // 0: passes on, 1: the program's, 2: unreadable
    std::vector<std::string> unreadable;           // why, for each 2 in order
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      mine[i] = selects(batch.records[i], unreadable);
      if (mine[i] == 1) inputs.push_back(&batch.records[i].raw());
    }
    if (inputs.empty() && std::find(mine.begin(), mine.end(), 2) == mine.end()) return;
    std::vector<jq_transform::Result> results;
    if (!inputs.empty()) results = workers_->run(inputs, context_.stop);
    std::vector<etl::Record> out;
    out.reserve(batch.records.size());
    int64_t made = 0, none = 0, errors = 0;
    std::size_t next = 0, nextUnreadable = 0;
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      etl::Record& input = batch.records[i];
      if (mine[i] == 0) {
        out.push_back(std::move(input));
        continue;
      }
      if (mine[i] == 2) {
        ++errors;
        batch.reject(std::move(input), "jq: match: " + unreadable[nextUnreadable++]);
        continue;
      }
      jq_transform::Result& result = results[next++];
      if (!result.error.empty()) {
        ++errors;
        batch.reject(std::move(input), "jq: " + result.error);
        continue;
      }
      if (result.outputs.empty()) {
        ++none;
        continue;
      }
      auto origin = etl::Record::originOf(input);
      for (auto& o : result.outputs) {
        const std::string& stream = o.flags & jq_wire::kHasStream ? o.stream
                                    : stream_.empty()             ? input.stream()
                                                                  : stream_;
        std::string key = o.flags & jq_wire::kHasKey ? std::move(o.key) : input.key();
        if (o.flags & jq_wire::kIdentity) {
          out.push_back(input);  // its own bytes, shared
          out.back().setStream(stream);
          out.back().setKey(std::move(key));
        } else {
          out.emplace_back(stream, std::move(o.json), std::move(key));
          out.back().metadata() = input.metadata();
        }
        out.back().setOrigin(origin);
        ++made;
      }
    }
    batch.records = std::move(out);
    outputs_.fetch_add(made);
    dropped_.fetch_add(none);
    failed_.fetch_add(errors);
  }

 private:
  static std::unique_ptr<jq_transform::Workers> startWorkers(const etl::Config& config,
                                                             std::size_t count,
                                                             Poco::Logger& logger) {
    Source source = programOf(config);
    jq_transform::Setup setup;
    setup.executable = workerExecutable();
    setup.program = source.text;
    setup.args = config.getDocument("args");
    setup.origin = originOf(source);
    setup.maxOutputs = static_cast<uint64_t>(config.getInt("max_outputs"));
    setup.maxOutputBytes = static_cast<uint64_t>(config.getInt("max_output_bytes"));
    setup.maxMemory = static_cast<uint64_t>(config.getInt("max_memory_mib")) << 20;
    setup.timeout = config.getDuration("timeout");
    try {
      return std::make_unique<jq_transform::Workers>(setup, count, logger);
    } catch (const jq_transform::CompileFailed& e) {
      throw std::runtime_error(compileErrors(config, source, e.what()));
    }
  }

  // Whether the program takes `record`: 1 when its stream is listed (or none are) and its fields
  // match, 0 when it passes on unchanged, 2 when `match` cannot read it (why goes to `unreadable`).
  char selects(const etl::Record& record, std::vector<std::string>& unreadable) const {
    if (!streams_.empty() && !streams_.count(record.stream())) return 0;
    try {
      for (const auto& [field, accepted] : match_) {
        auto value = record.text(field);
        if (!value || !accepted.count(*value)) return 0;
      }
    } catch (const etl::FieldError&) {
      // A document that is not an object (an array, a number) has no such field: no match.
      std::string invalid = record.jsonError();
      if (invalid.empty()) return 0;
      unreadable.push_back("invalid JSON: " + invalid);
      return 2;
    }
    return 1;
  }

  etl::Context& context_;
  std::string stream_;
  std::set<std::string> streams_;
  std::vector<std::pair<std::string, std::set<std::string>>> match_;
  std::atomic<int64_t>& outputs_;
  std::atomic<int64_t>& dropped_;
  std::atomic<int64_t>& failed_;
  std::unique_ptr<jq_transform::Workers> workers_;
};

const etl::ConfigField kSchema[] = {
    {"program", etl::Type::String, etl::Optional, nullptr,
     "the jq program (or program_file): each output is one record; none drops the record; an "
     "object's _stream and _key route it and are removed (when the program names them)"},
    {"program_file", etl::Type::Path, etl::Optional, nullptr,
     "a file holding the jq program, relative to the pipeline file"},
    {"args", etl::Type::Json, etl::Optional, "{}",
     "named arguments: {min_size: 2, region: \"${REGION}\"} are $min_size and $region"},
    {"stream", etl::Type::String, etl::Optional, nullptr,
     "the stream of outputs that set no _stream (default: the input's)"},
    {"streams", etl::Type::StringList, etl::Optional, nullptr,
     "only records of these streams go through the program; others pass on unchanged"},
    {"match", etl::Type::StringListMap, etl::Optional, nullptr,
     "only records whose fields have one of the listed values ({type: [PushEvent]}) go through "
     "the program; others pass on unchanged, at no cost"},
    {"workers", etl::Type::Int, etl::Optional, nullptr,
     "worker processes running the program side by side (default: the machine's cores, at most "
     "8)",
     "1", "64"},
    {"timeout", etl::Type::Duration, etl::Optional, "2s",
     "time budget of one record: a program still running then is stopped and the record becomes "
     "a dead letter",
     "10ms", "1h"},
    {"max_outputs", etl::Type::Int, etl::Optional, "10000",
     "outputs one record may make; more make it a dead letter", "1", "100000000"},
    {"max_output_bytes", etl::Type::Int, etl::Optional, "4194304",
     "bytes of JSON one record's outputs may hold together (an output equal to its input does "
     "not count); more make it a dead letter. A batch's outputs take at most batch.max_records "
     "times this in memory",
     "1024", "1073741824"},
    {"max_memory_mib", etl::Type::Int, etl::Optional, "512",
     "memory (address space) of each worker process in MiB; a record that needs more becomes a "
     "dead letter (0: no limit)",
     "0", "65536"},
    {}};

}  // namespace

ETL_PLUGIN(JqTransform, "jq", etl::Kind::Transform, "1.0.0",
           "Transforms records with a jq program: cast, default, compute, filter, explode arrays "
           "into several records, route them to streams",
           kSchema)
