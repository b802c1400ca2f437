#include "fake_json_api.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <sstream>
#include <thread>

namespace fakeapi {
namespace {

std::string weakEtag(const std::string& body) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : body) hash = (hash ^ c) * 1099511628211ULL;
  std::ostringstream out;
  out << "W/\"" << std::hex << hash << "\"";
  return out.str();
}

std::string faultName(Fault fault) {
  switch (fault) {
    case Fault::Status500:
      return "500";
    case Fault::Status403:
      return "403";
    case Fault::TruncatedBody:
      return "truncated body";
    case Fault::NotJson:
      return "not JSON";
  }
  return "?";
}

// 2024-05-01T10:00:00Z plus `seconds`: one format throughout, so text order is time order.
std::string timeAfter(int64_t seconds) {
  int64_t s = seconds % 60, m = (seconds / 60) % 60, h = 10 + seconds / 3600;
  char text[64];
  std::snprintf(text, sizeof text, "2024-05-01T%02lld:%02lld:%02lldZ", static_cast<long long>(h),
                static_cast<long long>(m), static_cast<long long>(s));
  return text;
}

std::string joinArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ",\n  " : "") + items[i];
  return out + "]";
}

std::string query(const std::map<std::string, std::string>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    std::string encoded;
    Poco::URI::encode(value, "!#$&'()*+,/:;=?@[]", encoded);
    out += (out.empty() ? "?" : "&") + name + "=" + encoded;
  }
  return out;
}

}  // namespace

class FakeJsonApi::Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(FakeJsonApi& api) : api_(api) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    api_.handle(request, response);
  }

 private:
  FakeJsonApi& api_;
};

namespace {
class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(FakeJsonApi& api) : api_(api) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new FakeJsonApi::Handler(api_);
  }

 private:
  FakeJsonApi& api_;
};
}  // namespace

FakeJsonApi::FakeJsonApi() = default;

FakeJsonApi::~FakeJsonApi() {
  stop();
}

void FakeJsonApi::start() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  port_ = socket.address().port();
  auto* params = new Poco::Net::HTTPServerParams;
  params->setKeepAlive(true);
  params->setMaxThreads(8);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
  server_->start();
}

void FakeJsonApi::stop() {
  if (server_) {
    server_->stopAll(true);
    server_.reset();
  }
}

std::string FakeJsonApi::baseUrl() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void FakeJsonApi::addItems(int count) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < count; ++i) {
    int64_t id = static_cast<int64_t>(ids_.size()) + 1;
    std::string updated = timeAfter(id);
    std::string item = "{\"id\":" + std::to_string(id) + ",\"name\":\"item " + std::to_string(id) +
                       "\",\"updated_at\":\"" + updated + "\",\"price\":" + std::to_string(id) +
                       ".10";
    if (id % 2 == 0) item += ",\"tags\":{\"even\":true,\"half\":" + std::to_string(id / 2) + "}";
    item += "}";
    ids_.push_back(id);
    updatedAt_.push_back(updated);
    items_.push_back(item);
  }
}

std::vector<int64_t> FakeJsonApi::ids() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ids_;
}

void FakeJsonApi::serveRaw(const std::string& body) {
  std::lock_guard<std::mutex> lock(mutex_);
  raw_ = body;
}

void FakeJsonApi::inject(Fault fault, int skip) {
  std::lock_guard<std::mutex> lock(mutex_);
  faults_.push_back({fault, skip});
}

void FakeJsonApi::expireNextCursor() {
  std::lock_guard<std::mutex> lock(mutex_);
  expireCursor_ = true;
}

void FakeJsonApi::setDelay(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(mutex_);
  delay_ = delay;
}

void FakeJsonApi::linkTo(const std::string& otherBase) {
  std::lock_guard<std::mutex> lock(mutex_);
  linkBase_ = otherBase;
}

std::vector<LoggedRequest> FakeJsonApi::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return log_;
}

int FakeJsonApi::count(int status) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(
      std::count_if(log_.begin(), log_.end(), [&](const auto& r) { return r.status == status; }));
}

// Called with the mutex held.
FakeJsonApi::Response FakeJsonApi::page(const std::string& path,
                                        const std::map<std::string, std::string>& params) {
  Response response;
  if (path == "/raw") {
    response.body = raw_;
    return response;
  }
  auto param = [&](const std::string& name, const std::string& fallback) {
    auto it = params.find(name);
    return it == params.end() ? fallback : it->second;
  };
  std::size_t perPage = std::stoul(param("per_page", "10"));
  std::string since = param("since", "");
  std::vector<std::size_t> selected;  // indexes of the items at or after `since`, oldest first
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (since.empty() || updatedAt_[i] >= since) selected.push_back(i);
  }
  std::size_t from = 0;
  if (path == "/cursor/items") {
    std::string cursor = param("cursor", "");
    if (!cursor.empty()) {
      if (expireCursor_) {
        expireCursor_ = false;
        response.status = 410;
        response.body = "{\"error\":\"cursor expired\"}";
        return response;
      }
      if (cursor.rfind("after-", 0) != 0) {
        response.status = 400;
        response.body = "{\"error\":\"unknown cursor\"}";
        return response;
      }
      int64_t after = std::stoll(cursor.substr(6));
      while (from < selected.size() && ids_[selected[from]] <= after) ++from;
    }
  } else {
    from = (std::stoul(param("page", "1")) - 1) * perPage;
  }
  std::vector<std::string> chunk;
  for (std::size_t i = from; i < selected.size() && chunk.size() < perPage; ++i) {
    chunk.push_back(items_[selected[i]]);
  }
  const bool more = from + chunk.size() < selected.size();
  std::map<std::string, std::string> nextParams = params;
  nextParams.erase("cursor");
  nextParams["page"] = std::to_string(from / std::max<std::size_t>(perPage, 1) + 2);
  std::string base = linkBase_.empty() ? baseUrl() : linkBase_;
  if (path == "/link/items") {
    response.body = joinArray(chunk);
    if (more) {
      response.headers.emplace_back(
          "Link", "<" + base + path + query(nextParams) + ">; rel=\"next\", <" + base + path +
                      "?per_page=" + std::to_string(perPage) + ">; rel=\"first\"");
    }
  } else if (path == "/next/items") {
    // A relative next URL unless it must lead elsewhere.
    std::string next =
        more ? "\"" + (linkBase_.empty() ? "" : linkBase_) + path + query(nextParams) + "\""
             : "null";
    response.body = "{\"data\":{\"count\":" + std::to_string(chunk.size()) +
                    ",\"results\":" + joinArray(chunk) + "},\"next\":" + next + "}";
  } else if (path == "/cursor/items") {
    std::string next = "null";
    if (more && !chunk.empty()) {
      next = "\"after-" + std::to_string(ids_[selected[from + chunk.size() - 1]]) + "\"";
    }
    response.body = "{\"items\":" + joinArray(chunk) + ",\"meta\":{\"next_cursor\":" + next + "}}";
  } else {
    response.status = 404;
    response.body = "{\"error\":\"no such collection\"}";
  }
  return response;
}

void FakeJsonApi::handle(Poco::Net::HTTPServerRequest& request,
                         Poco::Net::HTTPServerResponse& httpResponse) {
  Poco::URI uri(request.getURI());
  LoggedRequest entry;
  entry.path = uri.getPath();
  for (const auto& [name, value] : uri.getQueryParameters()) entry.query[name] = value;
  for (const auto& [name, value] : request) entry.headers[Poco::toLower(name)] = value;
  Response response;
  std::optional<Fault> fault;
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    delay = delay_;
    if (!faults_.empty()) {
      if (faults_.front().skip == 0) {
        fault = faults_.front().fault;
        faults_.pop_front();
        entry.fault = faultName(*fault);
      } else {
        --faults_.front().skip;
      }
    }
    if (fault == Fault::Status500) {
      response.status = 500;
      response.body = "{\"error\":\"internal\"}";
    } else if (fault == Fault::Status403) {
      response.status = 403;
      response.body = "{\"error\":\"this key may not read items\"";
      // Some APIs echo the credential they refused.
      if (!entry.header("authorization").empty()) {
        response.body += ",\"refused\":\"" + entry.header("authorization") + "\"";
      }
      response.body += "}";
    } else if (fault == Fault::NotJson) {
      response.body = "<html><body>Service temporarily in maintenance</body></html>";
    } else {
      response = page(entry.path, entry.query);
      if (response.status == 200) {
        std::string etag = weakEtag(response.body);
        response.headers.emplace_back("ETag", etag);
        if (entry.header("if-none-match") == etag) {
          response.status = 304;
          response.body.clear();
        }
      }
    }
    entry.status = response.status;
    log_.push_back(entry);
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  httpResponse.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status));
  for (const auto& [name, value] : response.headers) httpResponse.add(name, value);
  if (response.status != 304) httpResponse.setContentType("application/json");
  httpResponse.setContentLength(static_cast<std::streamsize>(response.body.size()));
  std::ostream& out = httpResponse.send();
  if (fault == Fault::TruncatedBody) {
    out.write(response.body.data(), static_cast<std::streamsize>(response.body.size() / 2));
    out.flush();
    auto& socket = static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
    socket.shutdown();
    socket.close();
    return;
  }
  out.write(response.body.data(), static_cast<std::streamsize>(response.body.size()));
}

}  // namespace fakeapi
