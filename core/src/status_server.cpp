#include "status_server.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>

namespace etl {
namespace {

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  Handler(Metrics& metrics, StatusServer::HealthFn& health) : metrics_(metrics), health_(health) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    std::string body;
    if (request.getURI() == "/metrics") {
      response.setContentType("text/plain; version=0.0.4");
      body = metrics_.prometheus();
    } else if (request.getURI() == "/health") {
      auto [healthy, json] = health_();
      response.setStatus(healthy ? Poco::Net::HTTPResponse::HTTP_OK
                                 : Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE);
      response.setContentType("application/json");
      body = json;
    } else {
      response.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
      body = "try /metrics or /health\n";
    }
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
  }

 private:
  Metrics& metrics_;
  StatusServer::HealthFn& health_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(Metrics& metrics, StatusServer::HealthFn health)
      : metrics_(metrics), health_(std::move(health)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(metrics_, health_);
  }

 private:
  Metrics& metrics_;
  StatusServer::HealthFn health_;
};

}  // namespace

StatusServer::StatusServer(const std::string& address, Metrics& metrics, HealthFn health) {
  Poco::Net::ServerSocket socket{Poco::Net::SocketAddress(address)};
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(2);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(metrics, std::move(health)), socket,
                                                    params);
  server_->start();
}

StatusServer::~StatusServer() {
  server_->stopAll(true);
}

unsigned short StatusServer::port() const {
  return server_->port();
}

}  // namespace etl
