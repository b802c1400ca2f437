#include "jq_workers.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "etl/errors.h"
#include "wire.h"

extern char** environ;

namespace jq_transform {

using Steady = std::chrono::steady_clock;

namespace {

constexpr int kOutOfMemory = 75;  // etl_jq_worker's exit when max_memory is reached

// How a worker ended, `on` something ("this record").
std::string describeExit(int status, const Setup& setup, const std::string& on = "this record") {
  if (WIFEXITED(status) && WEXITSTATUS(status) == kOutOfMemory) {
    return "the program ran out of memory (max_memory " + std::to_string(setup.maxMemory >> 20) +
           " MiB) on " + on;
  }
  if (WIFSIGNALED(status)) {
    return "the jq worker died on " + on + " (signal " + std::to_string(WTERMSIG(status)) + ": " +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "the jq worker ended on " + on + " (exit " +
         std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")";
}

std::string millis(std::chrono::milliseconds ms) {
  return ms.count() % 1000 ? std::to_string(ms.count()) + "ms"
                           : std::to_string(ms.count() / 1000) + "s";
}

}  // namespace

struct Workers::Worker {
  pid_t pid = -1;
  int fd = -1;           // our end of the socket; the worker's stdin and stdout are the other
  std::string received;  // answers not yet taken apart
  // This run's records [begin, end): the next to send (and how much of it is sent), and the
  // next whose answers are awaited, due since `due`.
  std::size_t begin = 0, end = 0, send = 0, sent = 0, answer = 0;
  char header[5] = {};
  Steady::time_point due;
  bool busy() const { return answer < end; }
};

Workers::Workers(Setup setup, std::size_t count, Poco::Logger& logger)
    : setup_(std::move(setup)), logger_(logger) {
  for (std::size_t i = 0; i < std::max<std::size_t>(count, 1); ++i) {
    workers_.push_back(std::make_unique<Worker>());
    start(*workers_.back());
  }
}

Workers::~Workers() {
  for (auto& w : workers_) stopWorker(*w);
}

void Workers::stopWorker(Worker& w) {
  if (w.fd >= 0) ::close(w.fd);
  w.fd = -1;
  if (w.pid > 0) {
    ::kill(w.pid, SIGKILL);
    int status = 0;
    while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  w.pid = -1;
  w.received.clear();
}

void Workers::start(Worker& w) {
  stopWorker(w);
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    throw std::runtime_error(std::string("jq: cannot make a socket for a worker: ") +
                             std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pair[1], 0);
  posix_spawn_file_actions_adddup2(&actions, pair[1], 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  // A group of its own: a Ctrl-C at the terminal is etlrun's to handle, not the worker's.
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::string path = setup_.executable;
  char* argv[] = {path.data(), nullptr};
  pid_t pid = -1;
  // A clean environment: the program's `env` and `$ENV` must not read etlrun's (database URLs,
  // tokens). Only what dates and text need passes.
  std::vector<std::string> kept;
  for (const char* name : {"TZ", "LANG", "LC_ALL", "LC_CTYPE", "LC_TIME", "LC_NUMERIC"}) {
    if (const char* value = std::getenv(name)) kept.push_back(std::string(name) + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& v : kept) envp.push_back(v.data());
  envp.push_back(nullptr);
  int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attributes, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(pair[1]);
  if (rc != 0) {
    ::close(pair[0]);
    throw std::runtime_error("jq: cannot start the worker " + path + ": " + std::strerror(rc) +
                             " (it is installed beside the plugin, libetl_jq.so)");
  }
  w.pid = pid;
  w.fd = pair[0];
  // The program, then its answer: blocking, with a deadline (a worker that cannot start must
  // not hang the pipeline's start).
  std::string hello(1, jq_wire::kProgram), body;
  jq_wire::putField(body, setup_.program);
  jq_wire::putField(body, setup_.args);
  jq_wire::putField(body, std::to_string(setup_.maxOutputs));
  jq_wire::putField(body, std::to_string(setup_.maxOutputBytes));
  jq_wire::putField(body, std::to_string(setup_.maxMemory));
  jq_wire::putField(body, setup_.origin);
  jq_wire::putLength(hello, body.size());
  hello += body;
  if (::send(w.fd, hello.data(), hello.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(hello.size())) {
    stopWorker(w);
    throw std::runtime_error("jq: the worker " + path + " did not take its program");
  }
  auto deadline = Steady::now() + std::chrono::seconds(30);
  while (w.received.size() < 5 ||
         w.received.size() < 5 + jq_wire::getLength(w.received.data() + 1)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
    pollfd p{w.fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      stopWorker(w);
      throw std::runtime_error("jq: the worker did not answer within 30 s of starting");
    }
    char buffer[4096];
    ssize_t n = ::recv(w.fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      int status = 0;
      pid_t ended = ::waitpid(w.pid, &status, 0);
      w.pid = -1;
      stopWorker(w);
      std::string why =
          ended > 0 ? describeExit(status, setup_, "the program") : "it closed its socket";
      throw std::runtime_error("jq: the worker " + path +
                               " ended as it started, compiling the program: " + why +
                               (setup_.maxMemory && setup_.maxMemory < (64u << 20)
                                    ? " (max_memory_mib " + std::to_string(setup_.maxMemory >> 20) +
                                          " may be too small for jq itself)"
                                    : ""));
    }
    w.received.append(buffer, static_cast<std::size_t>(n));
  }
  char tag = w.received[0];
  std::string answer = w.received.substr(5, jq_wire::getLength(w.received.data() + 1));
  w.received.erase(0, 5 + answer.size());
  if (tag != jq_wire::kCompiled) {
    stopWorker(w);
    throw CompileFailed(answer);
  }
  ::fcntl(w.fd, F_SETFL, ::fcntl(w.fd, F_GETFL) | O_NONBLOCK);
}

std::vector<Result> Workers::run(const std::vector<const std::string*>& inputs,
                                 const etl::StopSignal& stop) {
  std::vector<Result> results(inputs.size());
  if (inputs.empty()) return results;
  for (auto& w : workers_) {
    // One that died while idle (killed from outside, say) is replaced before it gets records.
    int status = 0;
    if (w->pid > 0 && ::waitpid(w->pid, &status, WNOHANG) == w->pid) {
      w->pid = -1;
      logger_.warning("jq worker found dead between batches (" +
                      describeExit(status, setup_, "no record") + "): started again");
      ++restarts_;
      start(*w);
    }
    if (w->fd < 0) start(*w);
  }
  // Small batches go to fewer workers: a worker's share should outweigh its round trip.
  std::size_t used = std::clamp<std::size_t>(inputs.size() / 16, 1, workers_.size());
  auto now = Steady::now();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    w.begin = i < used ? inputs.size() * i / used : inputs.size();
    w.end = i < used ? inputs.size() * (i + 1) / used : inputs.size();
    w.send = w.answer = w.begin;
    w.sent = 0;
    w.due = now;
  }
  // A record's answer is complete: the next one is due from now.
  auto finish = [&](Worker& w, std::string error) {
    if (!error.empty()) {
      results[w.answer].outputs.clear();
      results[w.answer].error = std::move(error);
    }
    ++w.answer;
    w.due = Steady::now();
  };
  // The worker is gone or killed: the record it was on gets `why`; a fresh worker takes the rest.
  auto replace = [&](Worker& w, const std::string& why) {
    finish(w, why);
    ++restarts_;
    logger_.warning("jq worker restarted: " + why);
    start(w);
    w.send = w.answer;
    w.sent = 0;
  };
  try {
    std::vector<pollfd> fds;
    std::vector<Worker*> polled;
    for (;;) {
      if (stop.requested()) throw etl::StoppedError("stopping");
      fds.clear();
      polled.clear();
      auto timeoutMs = std::chrono::milliseconds(100);  // stop requests are seen this often
      now = Steady::now();
      for (auto& owned : workers_) {
        Worker& w = *owned;
        if (!w.busy()) continue;
        if (now - w.due > setup_.timeout) {
          ::kill(w.pid, SIGKILL);
          replace(w, "the program ran longer than " + millis(setup_.timeout) +
                         " on this record (timeout): stopped");
          if (!w.busy()) continue;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            w.due + setup_.timeout - now + std::chrono::milliseconds(1));
        timeoutMs = std::min(timeoutMs, std::max(left, std::chrono::milliseconds(0)));
        short events = POLLIN;
        if (w.send < w.end) events |= POLLOUT;
        fds.push_back({w.fd, events, 0});
        polled.push_back(&w);
      }
      if (polled.empty()) break;
      int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeoutMs.count()));
      if (ready < 0 && errno != EINTR) {
        throw std::runtime_error(std::string("jq: poll: ") + std::strerror(errno));
      }
      for (std::size_t i = 0; i < polled.size() && ready > 0; ++i) {
        Worker& w = *polled[i];
        short revents = fds[i].revents;
        if (revents & POLLOUT) {
          // Records go out as the socket takes them: header, then the bytes, no copy.
          while (w.send < w.end) {
            const std::string& record = *inputs[w.send];
            if (w.sent == 0) {
              w.header[0] = jq_wire::kRecord;
              for (int b = 0; b < 4; ++b) {
                w.header[1 + b] = static_cast<char>((record.size() >> (8 * b)) & 0xff);
              }
            }
            const char* from = w.sent < 5 ? w.header + w.sent : record.data() + (w.sent - 5);
            std::size_t left = w.sent < 5 ? 5 - w.sent : record.size() - (w.sent - 5);
            ssize_t n = left ? ::send(w.fd, from, left, MSG_NOSIGNAL) : 0;
            if (n < 0) break;  // full (EAGAIN), or the worker is gone: the read side says which
            w.sent += static_cast<std::size_t>(n);
            if (w.sent == 5 + record.size()) {
              if (w.send == w.answer) w.due = Steady::now();
              ++w.send;
              w.sent = 0;
            }
          }
        }
        if (!(revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buffer[1 << 16];
        bool gone = false;
        for (;;) {
          ssize_t n = ::recv(w.fd, buffer, sizeof buffer, 0);
          if (n > 0) {
            w.received.append(buffer, static_cast<std::size_t>(n));
            continue;
          }
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          if (n < 0 && errno == EINTR) continue;
          gone = true;
          break;
        }
        // Whole answers, in order.
        std::size_t at = 0;
        while (w.busy() && w.received.size() - at >= 5) {
          uint32_t length = jq_wire::getLength(w.received.data() + at + 1);
          if (w.received.size() - at - 5 < length) break;
          char tag = w.received[at];
          const char* body = w.received.data() + at + 5;
          at += 5 + length;
          if (tag == jq_wire::kOutput) {
            jq_wire::Reader fields(body, length);
            Output out;
            std::string_view text;
            fields.byte(out.flags);
            if (out.flags & jq_wire::kHasStream && fields.field(text)) out.stream = text;
            if (out.flags & jq_wire::kHasKey && fields.field(text)) out.key = text;
            if (!(out.flags & jq_wire::kIdentity) && fields.field(text)) out.json = text;
            results[w.answer].outputs.push_back(std::move(out));
          } else if (tag == jq_wire::kError) {
            finish(w, std::string(body, length));
          } else if (tag == jq_wire::kDone) {
            finish(w, {});
          } else if (tag == jq_wire::kLog) {
            logger_.information("jq debug: " + std::string(body, length));
          }
        }
        w.received.erase(0, at);
        if (gone && w.busy()) {
          int status = 0;
          while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
          }
          w.pid = -1;
          replace(w, describeExit(status, setup_));
        } else if (gone) {
          start(w);  // between records: nothing of this run was lost
        }
      }
    }
  } catch (...) {
    // A run given up half way leaves workers with records in flight: the next run starts anew.
    for (auto& w : workers_) stopWorker(*w);
    throw;
  }
  return results;
}

}  // namespace jq_transform
