#include "jq_compile.h"

#include <regex>

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

void collect(void* data, jv message) {
  auto& errors = *static_cast<std::vector<CompileError>*>(data);
  std::string line = text(message);
  // "jq: error: $x is not defined at <top-level>, line 2:\n<the line>"; then "jq: 1 compile error".
  static const std::regex located("^jq: error: ([\\s\\S]*) at <top-level>, line ([0-9]+):");
  static const std::regex summary("^jq: [0-9]+ compile errors?$");
  std::smatch m;
  if (std::regex_search(line, m, located)) {
    errors.push_back({static_cast<std::size_t>(std::stoul(m[2].str())), m[1].str()});
  } else if (!std::regex_match(line, summary)) {
    if (line.rfind("jq: error: ", 0) == 0) line.erase(0, 11);
    errors.push_back({0, line});
  }
}

}  // namespace

std::vector<CompileError> compile(jq_state* jq, const std::string& program,
                                  const std::string& argsJson) {
  std::vector<CompileError> errors;
  jv args = jv_parse_sized(argsJson.data(), static_cast<int>(argsJson.size()));
  if (!jv_is_valid(args) || jv_get_kind(args) != JV_KIND_OBJECT) {
    jv_free(args);
    return {{0, "args must be a map of names to values"}};
  }
  jq_set_error_cb(jq, collect, &errors);
  int ok = jq_compile_args(jq, program.c_str(), args);
  jq_set_error_cb(jq, nullptr, nullptr);
  if (!ok && errors.empty()) errors.push_back({0, "the program did not compile"});
  return errors;
}

}  // namespace jq_program
