// `etlrun --log-format=json`: one JSON object per log line, for log shippers (journald to Loki,
// Vector, Fluent Bit...), instead of the text line "TIME LEVEL [pipeline.plugin] message":
//   {"time":"2026-01-12T10:00:00.000Z","level":"warning","logger":"ingest.sql",
//    "pipeline":"ingest","plugin":"sql","message":"..."}
// Every line is valid JSON whatever a message holds: control characters are escaped, invalid
// UTF-8 and NUL bytes become U+FFFD.
#pragma once

#include <Poco/Formatter.h>

#include <mutex>
#include <set>
#include <string>

namespace etl {

class JsonLogFormatter : public Poco::Formatter {
 public:
  void format(const Poco::Message& message, std::string& text) override;

  // The pipelines of the file being run. A logger named "P" or "P.plugin" for one of them gets
  // "pipeline" (and "plugin"); the others ("etlrun", "http") only "logger". Until this is called,
  // no logger is a pipeline's.
  void setPipelines(std::set<std::string> names);

 private:
  std::mutex mutex_;
  std::set<std::string> pipelines_;
};

}  // namespace etl
