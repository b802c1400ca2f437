// Compiling a jq program with libjq, shared by the transform (for `etlrun validate` and the error
// at start) and its worker processes (which run it).
#pragma once

extern "C" {
#include <jq.h>
}

#include <string>
#include <vector>

namespace jq_program {

struct CompileError {
  std::size_t line = 0;  // in the program, 1-based; 0 when jq did not say
  std::string message;   // jq's own words, without "jq: error: " and the location
};

// Compiles `program` into `jq` with named arguments `argsJson` (a JSON object: {"min": 2} is $min).
// Returns jq's errors; empty when it compiled.
std::vector<CompileError> compile(jq_state* jq, const std::string& program,
                                  const std::string& argsJson);

// A jv's text: a string as it is, anything else as JSON. Consumes `value`.
std::string text(jv value);

}  // namespace jq_program
