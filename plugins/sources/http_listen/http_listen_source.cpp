// http_listen: a receiver of webhooks (HTTP POSTs), each request body a record. A request is
// answered 200 only once the batch holding its record has committed (stored, or kept as a dead
// letter): the sender retries whatever it did not see acknowledged, so nothing acknowledged is
// lost, and a key (GitHub's X-GitHub-Delivery) makes a redelivery harmless in the sink.
//
// `mode: github` checks X-Hub-Signature-256 (HMAC-SHA256 of the body with `secret`, compared in
// constant time): a missing or wrong signature is 401 and nothing is stored. The record is then
// {"delivery": X-GitHub-Delivery, "event": X-GitHub-Event, "received_at": ..., "payload": body},
// keyed by the delivery. Served by Poco's HTTPServer (HTTPS with tls_cert and tls_key); bodies
// are bounded by max_body_bytes, waiting senders by max_pending.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>

#include "delivery_inbox.h"
#include "etl/sdk.h"
#include "webhook_signature.h"

namespace {

using Poco::Net::HTTPResponse;

struct Settings {
  std::string path, mode, secret, stream, keyHeader;
  std::size_t maxBody = 0;
  std::chrono::milliseconds ackTimeout{0};
};

// The JSON text of a header value, for the record wrapped around a GitHub delivery.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    }  // a header holds printable ASCII; anything else is dropped, not passed into JSON
  }
  return out + "\"";
}

class DeliveryHandler : public Poco::Net::HTTPRequestHandler {
 public:
  DeliveryHandler(const Settings& settings, etl_http::DeliveryInbox& inbox, etl::Context& context)
      : settings_(settings), inbox_(inbox), context_(context) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    auto answer = [&](HTTPResponse::HTTPStatus status, const std::string& text) {
      response.setStatus(status);
      response.setContentType("text/plain");
      response.setContentLength(static_cast<std::streamsize>(text.size() + 1));
      response.send() << text << "\n";
    };
    if (request.getURI().substr(0, request.getURI().find('?')) != settings_.path) {
      return answer(HTTPResponse::HTTP_NOT_FOUND, "no receiver at this path");
    }
    if (request.getMethod() != Poco::Net::HTTPRequest::HTTP_POST) {
      response.set("Allow", "POST");
      return answer(HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "POST a delivery here");
    }
    if (request.hasContentLength() &&
        request.getContentLength64() > static_cast<int64_t>(settings_.maxBody)) {
      return answer(HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE,
                    "larger than max_body_bytes (" + std::to_string(settings_.maxBody) + ")");
    }
    // Read at most one byte more than allowed: a body sent without a length is bounded too.
    std::string body;
    std::istream& in = request.stream();
    char chunk[65536];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
      body.append(chunk, static_cast<std::size_t>(in.gcount()));
      if (body.size() > settings_.maxBody) {
        return answer(HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE,
                      "larger than max_body_bytes (" + std::to_string(settings_.maxBody) + ")");
      }
    }
    std::string key;
    std::string raw;
    if (settings_.mode == "github") {
      if (!etl_http::signatureMatches(settings_.secret, body,
                                      request.get("X-Hub-Signature-256", ""))) {
        context_.metrics.counter(context_.pipeline + ".webhook_refused").fetch_add(1);
        context_.logger.warning("a delivery from " + request.clientAddress().host().toString() +
                                " has a missing or wrong X-Hub-Signature-256: refused (401)");
        return answer(HTTPResponse::HTTP_UNAUTHORIZED, "missing or wrong X-Hub-Signature-256");
      }
      std::string event = request.get("X-GitHub-Event", "");
      key = request.get("X-GitHub-Delivery", "");
      if (event.empty() || key.empty()) {
        return answer(HTTPResponse::HTTP_BAD_REQUEST,
                      "X-GitHub-Event and X-GitHub-Delivery are required");
      }
      if (request.getContentType().rfind("application/json", 0) != 0) {
        return answer(HTTPResponse::HTTP_UNSUPPORTEDMEDIATYPE,
                      "set the webhook's content type to application/json");
      }
      raw = "{\"delivery\":" + quoted(key) + ",\"event\":" + quoted(event) + ",\"received_at\":\"" +
            etl::isoTime(context_.clock.now()) + "\",\"payload\":" + body + "}";
    } else {
      raw = std::move(body);
      if (!settings_.keyHeader.empty()) key = request.get(settings_.keyHeader, "");
    }
    etl::Record record(settings_.stream, std::move(raw), key);
    std::string invalid = record.jsonError();
    if (!invalid.empty()) {  // the sender's mistake, told to the sender: nothing is stored
      return answer(HTTPResponse::HTTP_BAD_REQUEST, "the body is not JSON: " + invalid);
    }
    uint64_t sequence = inbox_.put(std::move(record));
    if (sequence == 0) {
      response.set("Retry-After", "5");
      return answer(HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
                    "busy: max_pending deliveries wait already; retry");
    }
    auto outcome = inbox_.await(sequence, std::chrono::steady_clock::now() + settings_.ackTimeout);
    if (outcome == etl_http::DeliveryInbox::Outcome::Stored) {
      return answer(HTTPResponse::HTTP_OK, "stored");
    }
    // Not known to be stored: the sender must retry (a repeat of what did get stored is
    // recognised by its key).
    response.set("Retry-After", "10");
    answer(HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
           outcome == etl_http::DeliveryInbox::Outcome::Closing
               ? "stopping: not stored yet; retry"
               : "not stored within ack_timeout; retry");
  }

 private:
  const Settings& settings_;
  etl_http::DeliveryInbox& inbox_;
  etl::Context& context_;
};

class HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  HandlerFactory(const Settings& settings, etl_http::DeliveryInbox& inbox, etl::Context& context)
      : settings_(settings), inbox_(inbox), context_(context) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new DeliveryHandler(settings_, inbox_, context_);
  }

 private:
  const Settings& settings_;
  etl_http::DeliveryInbox& inbox_;
  etl::Context& context_;
};

class HttpListenSource : public etl::Source {
 public:
  HttpListenSource(const etl::Config& config, etl::Context& context)
      : context_(context),
        address_(config.getString("listen")),
        tlsCert_(config.has("tls_cert") ? config.getString("tls_cert") : ""),
        tlsKey_(config.has("tls_key") ? config.getString("tls_key") : ""),
        maxConnections_(static_cast<int>(config.getInt("max_connections"))),
        inbox_(static_cast<std::size_t>(config.getInt("max_pending"))) {
    check(config);
    settings_.path = config.getString("path");
    settings_.mode = config.getString("mode");
    settings_.secret = config.has("secret") ? config.getString("secret") : "";
    settings_.stream = config.getString("stream");
    settings_.keyHeader = config.has("key_header") ? config.getString("key_header") : "";
    settings_.maxBody = static_cast<std::size_t>(config.getInt("max_body_bytes"));
    settings_.ackTimeout = config.getDuration("ack_timeout");
    // Commits are told to this process only: a tag tells its checkpoints from an earlier one's.
    std::random_device random;
    tag_ = std::to_string(::getpid()) + "-" + std::to_string(random());
  }

  static void check(const etl::Config& config) {
    auto fail = [&](const std::string& key, const std::string& what) {
      throw std::runtime_error(config.location(key) + ": " + what);
    };
    if (config.getString("mode") == "github" &&
        (!config.has("secret") || config.getString("secret").empty())) {
      fail("mode",
           "mode: github needs secret: the webhook's secret (e.g. "
           "\"${GITHUB_WEBHOOK_SECRET}\"); without it anyone could post deliveries");
    }
    if (config.has("tls_cert") != config.has("tls_key")) {
      fail(config.has("tls_cert") ? "tls_cert" : "tls_key", "tls_cert and tls_key go together");
    }
    const std::string& path = config.getString("path");
    if (path.empty() || path[0] != '/') fail("path", "path must start with /, got '" + path + "'");
  }

  ~HttpListenSource() override {
    inbox_.close();  // whoever waits is answered 503 and retries later
    if (server_) server_->stopAll(true);
  }

  void open(const std::string&) override {
    // A receiver has no position to resume from: what was not acknowledged is sent again.
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(maxConnections_);
    params->setMaxQueued(maxConnections_ * 4);
    params->setTimeout(Poco::Timespan(10, 0));  // a request trickling in holds a thread this long
    params->setKeepAlive(true);
    try {
      Poco::Net::SocketAddress address(address_);
      if (tlsCert_.empty()) {
        Poco::Net::ServerSocket socket(address, 64);
        server_ = std::make_unique<Poco::Net::HTTPServer>(
            new HandlerFactory(settings_, inbox_, context_), socket, params);
      } else {
        Poco::Net::initializeSSL();
        Poco::Net::Context::Ptr tls(new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE,
                                                           tlsKey_, tlsCert_, "",
                                                           Poco::Net::Context::VERIFY_NONE));
        Poco::Net::SecureServerSocket socket(address, 64, tls);
        server_ = std::make_unique<Poco::Net::HTTPServer>(
            new HandlerFactory(settings_, inbox_, context_), socket, params);
      }
    } catch (const Poco::Exception& e) {
      throw std::runtime_error("cannot listen on " + address_ + ": " + e.displayText());
    }
    server_->start();
    context_.logger.information("receiving " + settings_.mode + " deliveries on " +
                                (tlsCert_.empty() ? "http" : "https") + "://" +
                                server_->socket().address().toString() + settings_.path +
                                ": each answered 200 once its batch has committed");
  }

  Poll poll(std::vector<etl::Record>& out, std::size_t maxRecords) override {
    uint64_t last = inbox_.take(out, maxRecords);
    if (last == 0) return {Status::Idle, context_.clock.now() + std::chrono::milliseconds(20)};
    returned_ = last;
    return {Status::More, {}};
  }

  std::string checkpoint() const override {
    if (returned_ == 0) return {};
    return "{\"process\":\"" + tag_ + "\",\"received\":" + std::to_string(returned_) + "}";
  }

  void committed(const std::string& checkpoint) override {
    std::string prefix = "{\"process\":\"" + tag_ + "\",\"received\":";
    if (checkpoint.compare(0, prefix.size(), prefix) != 0) return;  // an earlier process's
    inbox_.committed(std::stoull(checkpoint.substr(prefix.size())));
  }

 private:
  etl::Context& context_;
  Settings settings_;
  std::string address_, tlsCert_, tlsKey_;
  int maxConnections_;
  etl_http::DeliveryInbox inbox_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::string tag_;
  uint64_t returned_ = 0;
};

const etl::ConfigField kSchema[] = {
    {"listen", etl::Type::String, etl::Required, nullptr,
     "address and port to receive on (0.0.0.0:9300; 127.0.0.1:0 picks a free port)"},
    {"path", etl::Type::String, etl::Optional, "/", "the path deliveries are POSTed to"},
    {"mode", etl::Type::String, etl::Optional, "plain",
     "plain: the body is the record; github: X-Hub-Signature-256 checked with secret (401 "
     "otherwise, nothing stored), the record {delivery, event, received_at, payload} keyed by "
     "X-GitHub-Delivery",
     nullptr, nullptr, "plain|github"},
    {"secret", etl::Type::String, etl::Optional, nullptr,
     "github: the webhook's secret, from the environment (\"${GITHUB_WEBHOOK_SECRET}\"); never "
     "logged"},
    {"key_header", etl::Type::String, etl::Optional, nullptr,
     "plain: a request header whose value becomes the record's key (an idempotency key)"},
    {"stream", etl::Type::String, etl::Optional, "events", "stream name given to every record"},
    {"max_body_bytes", etl::Type::Int, etl::Optional, "26214400",
     "a larger body is refused with 413 (GitHub's deliveries are at most 25 MB)", "1",
     "1073741824"},
    {"max_pending", etl::Type::Int, etl::Optional, "256",
     "deliveries waiting for their batch to commit at most; more are refused with 503 and "
     "Retry-After (the sender retries): memory stays bounded",
     "1", "100000"},
    {"max_connections", etl::Type::Int, etl::Optional, "32",
     "requests served at once (threads); more wait in the listen queue", "1", "1024"},
    {"ack_timeout", etl::Type::Duration, etl::Optional, "10s",
     "a delivery not committed within this is answered 503 (the sender retries; a repeat is "
     "recognised by its key)",
     "100ms", "1h"},
    {"tls_cert", etl::Type::Path, etl::Optional, nullptr,
     "HTTPS: the server's certificate chain (PEM), with tls_key"},
    {"tls_key", etl::Type::Path, etl::Optional, nullptr, "HTTPS: the certificate's private key"},
    {}};

}  // namespace

ETL_PLUGIN(HttpListenSource, "http_listen", etl::Kind::Source, "1.0.0",
           "webhooks: HTTP POSTs become records, answered 200 once committed; GitHub signatures",
           kSchema)
