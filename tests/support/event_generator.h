// Makes GH-Archive-format event files of any size from the real recorded events in tests/data:
// each output line is a recorded line with a fresh unique event id (and push_id for PushEvents).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace etltest {

std::vector<std::string> readLines(const std::string& path);
// Template events: the recorded GH Archive hour plus the API recordings' events.
std::vector<std::string> templateEvents(const std::string& dataDir);
// Writes `count` events, ids starting at `firstId`; returns the bytes written.
uint64_t writeEvents(const std::vector<std::string>& templates, uint64_t count, uint64_t firstId,
                     const std::string& path);
std::string withUniqueIds(const std::string& line, uint64_t id);

}  // namespace etltest
