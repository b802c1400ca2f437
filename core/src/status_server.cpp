#include "status_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <list>
#include <stdexcept>

namespace etl {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxRequestBytes = 8192;
constexpr std::size_t kMaxConnections = 64;
constexpr auto kRequestTimeout = std::chrono::seconds(5);  // to send a whole request

struct Connection {
  int fd = -1;
  std::string in, out;
  std::size_t sent = 0;
  SteadyClock::time_point deadline;
  bool lingering = false;  // answered; reading what the client still sends, until it closes
};

std::string reply(int status, const char* reason, const std::string& type, const std::string& body,
                  bool head, const std::string& extra = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "Connection: close\r\n\r\n" + (head ? "" : body);
}

}  // namespace

StatusServer::StatusServer(const std::string& address, MetricsFn metrics, HealthFn health)
    : metrics_(std::move(metrics)),
      health_(std::move(health)),
      socket_(Poco::Net::SocketAddress(address), 64) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  socket_.setBlocking(false);
  thread_ = std::thread([this] { run(); });
}

StatusServer::~StatusServer() {
  char byte = 0;
  if (::write(wake_[1], &byte, 1) < 0) {
    // The pipe cannot be full: one byte is ever written.
  }
  thread_.join();
  ::close(wake_[0]);
  ::close(wake_[1]);
}

unsigned short StatusServer::port() const {
  return socket_.address().port();
}

std::string StatusServer::respond(const std::string& request) const {
  std::string line = request.substr(0, request.find("\r\n"));
  std::size_t space = line.find(' ');
  std::string method = line.substr(0, space);
  std::string target = space == std::string::npos
                           ? ""
                           : line.substr(space + 1, line.find(' ', space + 1) - space - 1);
  target = target.substr(0, target.find('?'));
  bool head = method == "HEAD";
  if (method != "GET" && !head) {
    return reply(405, "Method Not Allowed", "text/plain", "only GET and HEAD\n", false,
                 "Allow: GET, HEAD\r\n");
  }
  if (target == "/metrics") {
    return reply(200, "OK", "text/plain; version=0.0.4", metrics_(), head);
  }
  if (target == "/health") {
    auto [healthy, json] = health_();
    return healthy ? reply(200, "OK", "application/json", json, head)
                   : reply(503, "Service Unavailable", "application/json", json, head);
  }
  return reply(404, "Not Found", "text/plain", "try /metrics or /health\n", head);
}

void StatusServer::run() {
  std::list<Connection> connections;
  int listenFd = socket_.impl()->sockfd();
  while (true) {
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listenFd, POLLIN, 0}};
    for (const auto& c : connections) {
      bool writing = !c.out.empty() && !c.lingering;
      fds.push_back({c.fd, static_cast<short>(writing ? POLLOUT : POLLIN), 0});
    }
    ::poll(fds.data(), fds.size(), 500);
    if (fds[0].revents) break;
    auto now = SteadyClock::now();
    std::size_t i = 2;
    for (auto it = connections.begin(); it != connections.end(); ++i) {
      Connection& c = *it;
      bool done = now >= c.deadline;
      if (!done && (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) && c.out.empty()) done = true;
      if (!done && c.lingering && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buffer[4096];
        ssize_t n = ::recv(c.fd, buffer, sizeof(buffer), 0);
        done = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
      }
      if (!done && c.out.empty() && (fds[i].revents & POLLIN)) {
        char buffer[2048];
        ssize_t n = ::recv(c.fd, buffer, sizeof(buffer), 0);
        if (n <= 0) {
          done = n == 0 || (errno != EAGAIN && errno != EINTR);
        } else {
          c.in.append(buffer, static_cast<std::size_t>(n));
          if (c.in.find("\r\n\r\n") != std::string::npos) {
            c.out = respond(c.in);
          } else if (c.in.size() > kMaxRequestBytes) {
            c.out = reply(431, "Request Header Fields Too Large", "text/plain", "", false);
          }
        }
      }
      if (!done && !c.out.empty() && !c.lingering && (fds[i].revents & POLLOUT)) {
        ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) c.sent += static_cast<std::size_t>(n);
        done = n < 0 && errno != EAGAIN && errno != EINTR;
        if (!done && c.sent == c.out.size()) {
          // Closing with unread input would reset the connection before the client reads the
          // answer: end our side, drain theirs briefly.
          ::shutdown(c.fd, SHUT_WR);
          c.lingering = true;
          c.deadline = std::min(c.deadline, now + std::chrono::seconds(1));
        }
      }
      if (done) {
        ::close(c.fd);
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
    if (fds[1].revents & POLLIN) {
      while (true) {
        int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (connections.size() >= kMaxConnections) {
          // Full: the longest-waiting client that has not finished its request makes room.
          ::close(connections.front().fd);
          connections.pop_front();
        }
        connections.push_back({fd, {}, {}, 0, SteadyClock::now() + kRequestTimeout});
      }
    }
  }
  for (auto& c : connections) ::close(c.fd);
}

}  // namespace etl
