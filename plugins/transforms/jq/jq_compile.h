// Compiling a jq program with libjq, in the worker processes only (etl_jq_worker): libjq 1.6
// aborts or overflows its stack on some programs, and that must cost a worker, not etlrun.
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

// Compiles `program` into `jq` with named arguments `argsJson` (a JSON object: {"min": 2} is $min);
// import and include search `origin` (the program file's folder) only. Returns jq's errors; empty
// when it compiled.
std::vector<CompileError> compile(jq_state* jq, const std::string& program,
                                  const std::string& argsJson, const std::string& origin);

// A jv's text: a string as it is, anything else as JSON. Consumes `value`.
std::string text(jv value);

}  // namespace jq_program
