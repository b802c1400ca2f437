// A fake JSON API on 127.0.0.1 for the http_poll tests: one growing collection of items, oldest
// first, served in pages three ways (Link header, a next URL in the body, an opaque cursor), with
// ETag/If-None-Match and 304, a `since` parameter (items whose updated_at is at or after it),
// faults to inject (500, a truncated body, a body that is not JSON, 403, an expired cursor), and a
// log of every request with its headers.
//
//   /link/items?per_page=N[&page=P][&since=T]      a JSON array; Link: <...&page=P+1>; rel="next"
//   /next/items?per_page=N[&page=P][&since=T] {"data":{"results":[...]},"next":"/next/items?..."}
//   /cursor/items?per_page=N[&cursor=C][&since=T]  {"items":[...],"meta":{"next_cursor":"C2"}}
//   /raw                                           the body set with serveRaw()
#pragma once

#include <Poco/Net/HTTPServer.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fakeapi {

enum class Fault {
  Status500,
  Status403,      // echoing the Authorization header it was sent, as some APIs do
  TruncatedBody,  // Content-Length promises twice what is sent, then the connection closes
  NotJson,        // 200 with an HTML page
};

struct LoggedRequest {
  std::string path;
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names in lower case
  int status = 0;
  std::string fault;  // which fault answered, if any
  std::string header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
  }
};

class FakeJsonApi {
 public:
  FakeJsonApi();
  ~FakeJsonApi();
  void start();
  void stop();
  std::string baseUrl() const;  // http://127.0.0.1:PORT

  // Appends `count` items: {"id":N,"name":"item N","updated_at":"2024-05-01T10:00:NNZ", ...} with
  // ids going on from the last; each second item has a nested object, some numbers as written.
  void addItems(int count);
  std::vector<int64_t> ids() const;
  void serveRaw(const std::string& body);
  // The next request after `skip` others is answered with `fault` (queued in order).
  void inject(Fault fault, int skip = 0);
  // The next request with a cursor is answered 410 Gone, as an API answers a cursor it dropped.
  void expireNextCursor();
  // Real time spent before each answer (to catch a process mid-walk).
  void setDelay(std::chrono::milliseconds delay);
  // Pages' next links point at `otherBase` (another server, another origin) instead of here.
  void linkTo(const std::string& otherBase);

  std::vector<LoggedRequest> requests() const;
  int count(int status) const;

  class Handler;

 private:
  struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };
  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  Response page(const std::string& path, const std::map<std::string, std::string>& query);

  std::unique_ptr<Poco::Net::HTTPServer> server_;
  unsigned short port_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> items_;      // JSON, oldest first
  std::vector<std::string> updatedAt_;  // each item's updated_at
  std::vector<int64_t> ids_;
  std::string raw_ = "[]";
  std::string linkBase_;
  bool expireCursor_ = false;
  struct Pending {
    Fault fault;
    int skip;
  };
  std::deque<Pending> faults_;
  std::chrono::milliseconds delay_{0};
  std::vector<LoggedRequest> log_;
};

}  // namespace fakeapi
