// etl_jq_worker: runs the jq transform's program, one record at a time, in a process of its own
// (see jq_transform.cpp for why). Reads messages from stdin and answers on stdout (wire.h).
//
// Each record is parsed with simdjson and built into jq's values directly (twice as fast as jq's
// own parser); numbers simdjson cannot hold (integers beyond 64 bits, 1e400) go through jq's
// parser instead. A record with a duplicate object key is refused: which of the two a program
// would see is a guess (jq keeps the last, a JSON path lookup the first).
#include <dirent.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "jq_compile.h"
#include "wire.h"

namespace {

constexpr int kOutOfMemory = 75;  // exit code the transform reads as "max_memory reached"

// stdin, read in large pieces.
class Input {
 public:
  // A whole message: false at the end of input.
  bool next(char& tag, std::string& body) {
    char header[5];
    if (!read(header, 5)) return false;
    tag = header[0];
    body.resize(jq_wire::getLength(header + 1));
    return read(body.data(), body.size());
  }

 private:
  bool read(char* out, std::size_t n) {
    while (n > 0) {
      if (at_ == end_) {
        ssize_t got = ::read(0, buffer_, sizeof buffer_);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        at_ = 0;
        end_ = static_cast<std::size_t>(got);
      }
      std::size_t take = std::min(n, end_ - at_);
      std::memcpy(out, buffer_ + at_, take);
      at_ += take;
      out += take;
      n -= take;
    }
    return true;
  }
  char buffer_[1 << 16];
  std::size_t at_ = 0, end_ = 0;
};

std::string out;  // answers not yet written

void flush() {
  const char* p = out.data();
  std::size_t left = out.size();
  while (left > 0) {
    ssize_t n = ::write(1, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0);  // the transform is gone
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  out.clear();
}

void message(char tag, const std::string& body) {
  out.push_back(tag);
  jq_wire::putLength(out, body.size());
  out += body;
}

// The transform reads the exit code and names the record; nothing to print here.
void outOfMemory(void*) {
  _exit(kOutOfMemory);
}

struct Refused {
  std::string reason;
};

jv fromDom(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      jv object = jv_object();
      int fields = 0;
      for (auto field : simdjson::dom::object(e)) {
        object = jv_object_set(
            object, jv_string_sized(field.key.data(), static_cast<int>(field.key.size())),
            fromDom(field.value));
        ++fields;
      }
      if (jv_object_length(jv_copy(object)) != fields) {
        jv_free(object);
        std::set<std::string_view> seen;
        for (auto field : simdjson::dom::object(e)) {
          if (!seen.insert(field.key).second) {
            throw Refused{"duplicate key \"" + std::string(field.key) + "\" in an object"};
          }
        }
      }
      return object;
    }
    case element_type::ARRAY: {
      jv array = jv_array();
      for (auto item : simdjson::dom::array(e)) array = jv_array_append(array, fromDom(item));
      return array;
    }
    case element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      return jv_string_sized(s.data(), static_cast<int>(s.size()));
    }
    case element_type::INT64:
      return jv_number(static_cast<double>(e.get_int64().value_unsafe()));
    case element_type::UINT64:
      return jv_number(static_cast<double>(e.get_uint64().value_unsafe()));
    case element_type::DOUBLE:
      return jv_number(e.get_double().value_unsafe());
    case element_type::BOOL:
      return jv_bool(e.get_bool().value_unsafe());
    case element_type::NULL_VALUE:
      return jv_null();
  }
  return jv_null();
}

// The record as jq's value; throws Refused for what is not one JSON document.
jv parse(simdjson::dom::parser& parser, const std::string& bytes) {
  simdjson::dom::element root;
  auto error = parser.parse(bytes.data(), bytes.size(), true).get(root);
  if (!error) return fromDom(root);
  if (error == simdjson::NUMBER_ERROR || error == simdjson::NUMBER_OUT_OF_RANGE) {
    jv value = jv_parse_sized(bytes.data(), static_cast<int>(bytes.size()));
    if (jv_is_valid(value)) return value;
    std::string why = jv_invalid_has_msg(jv_copy(value))
                          ? jq_program::text(jv_invalid_get_msg(value))
                          : (jv_free(value), std::string("?"));
    throw Refused{"invalid JSON: " + why};
  }
  throw Refused{std::string("invalid JSON: ") + simdjson::error_message(error)};
}

struct Limits {
  uint64_t maxOutputs = 10000;
  uint64_t maxOutputBytes = 1u << 20;
  bool routes = false;  // the program names _stream or _key
};

void run(jq_state* jq, simdjson::dom::parser& parser, const std::string& bytes,
         const Limits& limits) {
  jv input;
  try {
    input = parse(parser, bytes);
  } catch (const Refused& r) {
    message(jq_wire::kError, r.reason);
    return;
  }
  // An input that carries _stream or _key itself is routed by them even when passed on as is.
  bool routesItself = limits.routes && jv_get_kind(input) == JV_KIND_OBJECT &&
                      (jv_object_has(jv_copy(input), jv_string("_stream")) ||
                       jv_object_has(jv_copy(input), jv_string("_key")));
  jq_start(jq, jv_copy(input), 0);
  uint64_t outputs = 0, bytesOut = 0;
  std::string fields;
  for (;;) {
    jv result = jq_next(jq);
    if (!jv_is_valid(result)) {
      std::string error;
      if (jv_invalid_has_msg(jv_copy(result))) {
        error = jq_program::text(jv_invalid_get_msg(result));
      } else {
        jv_free(result);
        if (jq_halted(jq)) {
          // halt_error: a failure with its message; plain halt: the outputs end here.
          jv why = jq_get_error_message(jq);
          if (jv_is_valid(why) && jv_get_kind(why) != JV_KIND_NULL) {
            error = "halt_error: " + jq_program::text(why);
          } else {
            jv_free(why);
          }
        }
      }
      jv_free(input);
      if (!error.empty()) {
        message(jq_wire::kError, error);
      } else {
        message(jq_wire::kDone, {});
      }
      return;
    }
    if (++outputs > limits.maxOutputs) {
      jv_free(result);
      jv_free(input);
      message(jq_wire::kError, "the program gave more than " + std::to_string(limits.maxOutputs) +
                                   " outputs for this record (max_outputs)");
      return;
    }
    fields.clear();
    uint8_t flags = 0;
    if (!routesItself && jv_identical(jv_copy(result), jv_copy(input))) {
      jv_free(result);  // the input itself: the transform keeps the record's own bytes
      fields.push_back(static_cast<char>(jq_wire::kIdentity));
      message(jq_wire::kOutput, fields);
      continue;
    }
    std::string stream, key;
    if (limits.routes && jv_get_kind(result) == JV_KIND_OBJECT) {
      jv s = jv_object_get(jv_copy(result), jv_string("_stream"));
      if (jv_is_valid(s)) {
        if (jv_get_kind(s) != JV_KIND_STRING || jv_string_length_bytes(jv_copy(s)) == 0) {
          std::string shown = jq_program::text(s);
          jv_free(result);
          jv_free(input);
          message(jq_wire::kError, "_stream must be a non-empty string, got " + shown);
          return;
        }
        stream = jq_program::text(s);
        flags |= jq_wire::kHasStream;
        result = jv_object_delete(result, jv_string("_stream"));
      } else {
        jv_free(s);
      }
      jv k = jv_object_get(jv_copy(result), jv_string("_key"));
      if (jv_is_valid(k)) {
        jv_kind kind = jv_get_kind(k);
        if (kind != JV_KIND_STRING && kind != JV_KIND_NUMBER) {
          std::string shown = jq_program::text(k);
          jv_free(result);
          jv_free(input);
          message(jq_wire::kError, "_key must be a string or a number, got " + shown);
          return;
        }
        key = jq_program::text(k);
        flags |= jq_wire::kHasKey;
        result = jv_object_delete(result, jv_string("_key"));
      } else {
        jv_free(k);
      }
    }
    jv dumped = jv_dump_string(result, 0);
    std::string_view json(jv_string_value(dumped),
                          static_cast<std::size_t>(jv_string_length_bytes(jv_copy(dumped))));
    bytesOut += json.size();
    // libjq 1.6 writes a value nested deeper than 256 levels as this text, which is not JSON.
    // (A string holding these words is refused too: a rare price for never storing a cut value.)
    static const std::string_view kStripped = "<stripped: exceeds max depth>";
    if (json.find(kStripped) != std::string_view::npos) {
      jv_free(dumped);
      jv_free(input);
      message(jq_wire::kError,
              "an output is nested deeper than 256 levels, which jq 1.6 cannot write as JSON");
      return;
    }
    if (bytesOut > limits.maxOutputBytes) {
      jv_free(dumped);
      jv_free(input);
      message(jq_wire::kError, "the program's outputs for this record exceed " +
                                   std::to_string(limits.maxOutputBytes) +
                                   " bytes (max_output_bytes)");
      return;
    }
    fields.push_back(static_cast<char>(flags));
    if (flags & jq_wire::kHasStream) jq_wire::putField(fields, stream);
    if (flags & jq_wire::kHasKey) jq_wire::putField(fields, key);
    jq_wire::putField(fields, json);
    jv_free(dumped);
    message(jq_wire::kOutput, fields);
    if (out.size() > (1u << 20)) flush();
  }
}

void debugLine(void*, jv value) {
  message(jq_wire::kLog, jq_program::text(value));
}

// Only the pipes: a worker keeps no database socket or file of the parent open.
void closeInheritedFiles() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  std::vector<int> fds;
  while (dirent* entry = readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (fd > 2 && fd != dirfd(dir)) fds.push_back(fd);
  }
  closedir(dir);
  for (int fd : fds) close(fd);
}

uint64_t number(const std::string& text) {
  return text.empty() ? 0 : std::strtoull(text.c_str(), nullptr, 10);
}

}  // namespace

int main() {
  // The transform owns this process: it ends it by closing the pipe, or kills it. A Ctrl-C
  // meant for etlrun must not take the program away from a batch, and a dead etlrun takes it.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 0;
  closeInheritedFiles();

  Input input;
  char tag = 0;
  std::string body;
  if (!input.next(tag, body) || tag != jq_wire::kProgram) return 2;
  jq_wire::Reader setup(body.data(), body.size());
  std::string_view program, args, maxOutputs, maxOutputBytes, maxMemory, origin;
  if (!setup.field(program) || !setup.field(args) || !setup.field(maxOutputs) ||
      !setup.field(maxOutputBytes) || !setup.field(maxMemory) || !setup.field(origin)) {
    return 2;
  }
  // An output's _stream and _key route it only when the program names them: data passed on
  // whole (`.`, `select(...)`) must not choose its own table.
  bool routes = program.find("_stream") != std::string_view::npos ||
                program.find("_key") != std::string_view::npos;
  Limits limits{number(std::string(maxOutputs)), number(std::string(maxOutputBytes)), routes};
  // libjq 1.6 includes ~/.jq into every program: the same pipeline must not behave differently
  // for another user.
  unsetenv("HOME");
  // jq also searches "." for modules: make that the program's folder, not wherever etlrun ran.
  if (chdir(std::string(origin).c_str()) != 0 && chdir("/") != 0) return 2;
  if (uint64_t memory = number(std::string(maxMemory))) {
    rlimit limit{memory, memory};
    setrlimit(RLIMIT_AS, &limit);
  }
  std::set_new_handler([] { outOfMemory(nullptr); });

  jq_state* jq = jq_init();
  if (!jq) return kOutOfMemory;
  jq_set_nomem_handler(jq, outOfMemory, nullptr);
  jq_set_debug_cb(jq, debugLine, nullptr);
  auto errors =
      jq_program::compile(jq, std::string(program), std::string(args), std::string(origin));
  if (!errors.empty()) {
    std::string text;
    for (const auto& e : errors) {
      text += (text.empty() ? "" : "\n") + std::to_string(e.line) + ":" + e.message;
    }
    message(jq_wire::kCompileError, text);
    flush();
    return 0;
  }
  message(jq_wire::kCompiled, {});
  flush();

  simdjson::dom::parser parser;
  while (input.next(tag, body)) {
    if (tag != jq_wire::kRecord) return 2;
    run(jq, parser, body, limits);
    flush();
  }
  jq_teardown(&jq);
  return 0;
}
