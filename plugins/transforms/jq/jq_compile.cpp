#include "jq_compile.h"

#include <cctype>

namespace jq_program {

std::string text(jv value) {
  if (jv_get_kind(value) == JV_KIND_STRING) {
    std::string out(jv_string_value(value),
                    static_cast<std::size_t>(jv_string_length_bytes(jv_copy(value))));
    jv_free(value);
    return out;
  }
  jv dumped = jv_dump_string(value, 0);
  std::string out = jv_string_value(dumped);
  jv_free(dumped);
  return out;
}

namespace {

// Whether `line` is jq's closing count, "jq: 3 compile errors".
bool isSummary(const std::string& line) {
  const std::string head = "jq: ";
  if (line.rfind(head, 0) != 0) return false;
  std::size_t i = head.size();
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if (i == head.size()) return false;
  std::string rest = line.substr(i);
  return rest == " compile error" || rest == " compile errors";
}

// Plain string searches, not a regular expression: jq's message holds the whole line of the
// program, and a recursive matcher overflows the stack on a long one.
void collect(void* data, jv message) {
  auto& errors = *static_cast<std::vector<CompileError>*>(data);
  std::string line = text(message);
  // "jq: error: $x is not defined at <top-level>, line 2:\n<the line>"; then "jq: 1 compile error".
  if (isSummary(line)) return;
  if (line.rfind("jq: error: ", 0) == 0) line.erase(0, 11);
  const std::string marker = " at <top-level>, line ";
  std::size_t at = line.find(marker);
  if (at != std::string::npos) {
    std::size_t digits = at + marker.size(), end = digits;
    while (end < line.size() && std::isdigit(static_cast<unsigned char>(line[end]))) ++end;
    if (end > digits && end - digits < 10 && end < line.size() && line[end] == ':') {
      errors.push_back({static_cast<std::size_t>(std::stoul(line.substr(digits, end - digits))),
                        line.substr(0, at)});
      return;
    }
  }
  errors.push_back({0, line.substr(0, line.find('\n'))});
}

}  // namespace

std::vector<CompileError> compile(jq_state* jq, const std::string& program,
                                  const std::string& argsJson, const std::string& origin) {
  std::vector<CompileError> errors;
  jv args = jv_parse_sized(argsJson.data(), static_cast<int>(argsJson.size()));
  if (!jv_is_valid(args) || jv_get_kind(args) != JV_KIND_OBJECT) {
    jv_free(args);
    return {{0, "args must be a map of names to values"}};
  }
  jq_set_error_cb(jq, collect, &errors);
  // import/include look in the program's folder only: never in ~/.jq or jq's default folders
  // (without these attributes libjq 1.6 aborts on any import).
  jq_set_attr(jq, jv_string("JQ_LIBRARY_PATH"),
              jv_array_append(jv_array(), jv_string(origin.c_str())));
  jq_set_attr(jq, jv_string("JQ_ORIGIN"), jv_string(origin.c_str()));
  jq_set_attr(jq, jv_string("PROGRAM_ORIGIN"), jv_string(origin.c_str()));
  int ok = jq_compile_args(jq, program.c_str(), args);
  jq_set_error_cb(jq, nullptr, nullptr);
  if (!ok && errors.empty()) errors.push_back({0, "the program did not compile"});
  return errors;
}

}  // namespace jq_program
