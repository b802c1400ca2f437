#include "test_env.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/File.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Path.h>
#include <Poco/PatternFormatter.h>
#include <Poco/TemporaryFile.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace etltest {
namespace {

// In-process pipelines log like etlrun does (stderr), from warnings up: a failing test shows why.
struct TestLogging {
  TestLogging() {
    Poco::AutoPtr<Poco::PatternFormatter> format(new Poco::PatternFormatter("%p [%s] %t"));
    Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel(std::cerr));
    Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(format, console));
    Poco::Logger::root().setChannel(channel);
    Poco::Logger::root().setLevel(Poco::Message::PRIO_WARNING);
  }
} testLogging;

}  // namespace

// A port nobody listens on now, below the kernel's ephemeral range (32768 and up here): a port
// in that range can be held by any client socket of the machine, and the server's bind fails.
int unusedPort() {
  static std::atomic<unsigned> sequence{0};
  for (unsigned attempt = 0;; ++attempt) {
    int port = 10000 + static_cast<int>((getpid() * 7919u + sequence++ * 104729u) % 22000u);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(fd);
    if (free || attempt == 50) return port;
  }
}

std::string etlrunBinary() {
  return ETLTEST_ETLRUN;
}
std::string pluginDir() {
  return ETLTEST_PLUGIN_DIR;
}
std::string dataDir() {
  return ETLTEST_DATA_DIR;
}
std::string sourceDir() {
  return ETLTEST_SOURCE_DIR;
}

TempDir::TempDir() {
  char pattern[] = "/tmp/etlrun-test-XXXXXX";
  if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  try {
    Poco::File(path_).remove(true);
  } catch (...) {
  }
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

namespace {

pid_t spawn(const std::string& command, const std::vector<std::string>& args,
            const std::string& outFile, const std::string& errFile,
            const std::map<std::string, std::string>& env) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int out = ::open(outFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& [name, value] : env) {
      if (value.empty() && name.front() == '-') {
        unsetenv(name.c_str() + 1);  // "-NAME" unsets NAME
      } else {
        setenv(name.c_str(), value.c_str(), 1);
      }
    }
    std::vector<char*> argv{const_cast<char*>(command.c_str())};
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(command.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

int waitFor(int pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -WTERMSIG(status);
}

int waitFor(int pid, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  waitFor(pid);
  return kTimedOut;
}

ProcessResult runProcess(const std::string& command, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env) {
  TempDir dir;
  pid_t pid = spawn(command, args, dir / "out", dir / "err", env);
  ProcessResult result;
  result.exitCode = waitFor(pid);
  result.out = readFile(dir / "out");
  result.err = readFile(dir / "err");
  return result;
}

ProcessResult runEtlrun(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env) {
  std::vector<std::string> all{"--plugin-path=" + pluginDir()};
  all.insert(all.end(), args.begin(), args.end());
  return runProcess(etlrunBinary(), all, env);
}

int startProcess(const std::string& command, const std::vector<std::string>& args,
                 const std::string& stdoutFile, const std::string& stderrFile,
                 const std::map<std::string, std::string>& env) {
  return spawn(command, args, stdoutFile, stderrFile, env);
}

int startEtlrun(const std::vector<std::string>& args, const std::string& stdoutFile,
                const std::string& stderrFile, const std::map<std::string, std::string>& env) {
  std::vector<std::string> all{"--plugin-path=" + pluginDir()};
  all.insert(all.end(), args.begin(), args.end());
  return spawn(etlrunBinary(), all, stdoutFile, stderrFile, env);
}

bool waitUntil(const std::function<bool()>& done, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::pair<int, std::string> httpGet(unsigned short port, const std::string& path) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(2, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    std::string text((std::istreambuf_iterator<char>(body)), std::istreambuf_iterator<char>());
    return {static_cast<int>(response.getStatus()), text};
  } catch (const Poco::Exception&) {
    return {0, ""};
  }
}

}  // namespace etltest
