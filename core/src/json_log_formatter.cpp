#include "json_log_formatter.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Message.h>

#include "etl/record.h"
#include "etl/text.h"

namespace etl {
namespace {

// The names --log-level takes, so a filter on "level" reads like the option.
const char* levelName(Poco::Message::Priority priority) {
  switch (priority) {
    case Poco::Message::PRIO_FATAL:
      return "fatal";
    case Poco::Message::PRIO_CRITICAL:
      return "critical";
    case Poco::Message::PRIO_ERROR:
      return "error";
    case Poco::Message::PRIO_WARNING:
      return "warning";
    case Poco::Message::PRIO_NOTICE:
      return "notice";
    case Poco::Message::PRIO_INFORMATION:
      return "information";
    case Poco::Message::PRIO_DEBUG:
      return "debug";
    default:
      return "trace";
  }
}

void addField(std::string& out, const char* name, const std::string& value) {
  out += ",\"";
  out += name;
  out += "\":";
  // Escapes quotes, backslashes and control characters; storableText() first, because a JSON
  // string cannot hold invalid UTF-8 or a NUL (a file name, a server's message may).
  appendJsonString(out, storableText(value));
}

}  // namespace

void JsonLogFormatter::setPipelines(std::set<std::string> names) {
  std::lock_guard<std::mutex> lock(mutex_);
  pipelines_ = std::move(names);
}

void JsonLogFormatter::format(const Poco::Message& message, std::string& text) {
  const std::string& logger = message.getSource();
  std::string pipeline = logger.substr(0, logger.find('.'));
  bool ofPipeline;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ofPipeline = pipelines_.count(pipeline) > 0;
  }
  text += "{\"time\":\"" +
          Poco::DateTimeFormatter::format(message.getTime(), "%Y-%m-%dT%H:%M:%S.%iZ") +
          "\",\"level\":\"" + levelName(message.getPriority()) + "\"";
  addField(text, "logger", logger);
  if (ofPipeline) {
    addField(text, "pipeline", pipeline);
    if (pipeline.size() < logger.size())
      addField(text, "plugin", logger.substr(pipeline.size() + 1));
  }
  addField(text, "message", message.getText());
  text += "}";
}

}  // namespace etl
