// Captures every log message of the process (all loggers) for assertions.
#pragma once

#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <mutex>
#include <string>
#include <vector>

namespace etltest {

class LogCapture : public Poco::Channel {
 public:
  void log(const Poco::Message& message) override {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.push_back(message.getSource() + ": " + message.getText());
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  std::string all() {
    std::string out;
    for (const auto& line : lines()) out += line + "\n";
    return out;
  }
  // Routes every logger, existing and future, to this capture at the given level.
  void install(int level = Poco::Message::PRIO_TRACE) {
    Poco::Logger::root().setChannel(this);
    Poco::Logger::setChannel("", this);
    Poco::Logger::setLevel("", level);
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace etltest
