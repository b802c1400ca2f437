// Checks a GET /metrics answer against the Prometheus text format's conventions that tools rely on:
// every family has one # HELP and one # TYPE line before its samples, every sample belongs to a
// declared family, and names follow the naming rules (a `_total` suffix is for counters only).
#pragma once

#include <string>
#include <vector>

namespace etltest {

// What is wrong with `text`, one message per problem; empty when all is well. With
// `describedOnly`, a family whose HELP is the generic "(no description)" is a problem too: every
// metric of the core and the bundled plugins has its description.
std::vector<std::string> prometheusProblems(const std::string& text, bool describedOnly);

// The families declared in `text` with their type: {"etlrun_records_in_total", "counter"}, ...
std::vector<std::pair<std::string, std::string>> prometheusFamilies(const std::string& text);

}  // namespace etltest
