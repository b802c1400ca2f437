// kafka_mock: librdkafka's mock cluster as a program, for running etlrun's Kafka pipelines by
// hand. Prints the bootstrap servers, then reads commands on stdin until EOF or "quit":
//   topic NAME PARTITIONS     create a topic
//   down BROKER / up BROKER   take a broker (1..N) down or bring it back
#include <iostream>
#include <sstream>

#include "kafka_mock.h"

int main(int argc, char** argv) {
  int brokers = 3;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--brokers") brokers = std::stoi(argv[i + 1]);
  }
  etltest::KafkaMock mock(brokers);
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) != "--topic") continue;
    std::string spec = argv[i + 1];  // name:partitions
    auto colon = spec.find(':');
    mock.createTopic(spec.substr(0, colon),
                     colon == std::string::npos ? 1 : std::stoi(spec.substr(colon + 1)));
  }
  std::cout << mock.bootstraps() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command, name;
    words >> command;
    try {
      if (command == "quit") break;
      if (command == "topic") {
        int partitions = 1;
        words >> name >> partitions;
        mock.createTopic(name, partitions);
      } else if (command == "down" || command == "up") {
        int broker = 0;
        words >> broker;
        mock.setBrokerDown(broker, command == "down");
      } else if (!command.empty()) {
        std::cerr << "unknown command: " << command << std::endl;
        continue;
      }
      std::cout << "ok" << std::endl;
    } catch (const std::exception& e) {
      std::cerr << e.what() << std::endl;
    }
  }
  return 0;
}
