// HTTPS: the shared client verifies certificates by default. A server whose certificate is not
// trusted is refused before any request is sent; one trusted through SSL_CERT_FILE (how a GitHub
// Enterprise with a private CA is configured) works. Certificates are made here, for 127.0.0.1.
#include <gtest/gtest.h>

#include <cstdlib>

#include "etl/errors.h"
#include "fake_github.h"
#include "quota_http_client.h"
#include "test_env.h"

namespace {

void makeCertificate(const std::string& dir, const std::string& name) {
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      dir + "/" + name + ".key -out " + dir + "/" + name + ".pem > /dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << "openssl is needed for this test";
}

// Two certificates for the whole process: TLS settings are read once, when TLS is first used, and
// the only CA this process trusts is the first certificate.
const etltest::TempDir& certificates() {
  static etltest::TempDir dir;
  static bool made = [] {
    makeCertificate(dir.path(), "trusted");
    makeCertificate(dir.path(), "untrusted");
    setenv("SSL_CERT_FILE", (dir / "trusted.pem").c_str(), 1);
    return true;
  }();
  (void)made;
  return dir;
}

TEST(Https, CertificatesAreVerifiedByDefault) {
  const etltest::TempDir& dir = certificates();
  etl::QuotaHttpClient client(etl::systemClock());
  etl::StopSignal stop;

  fakegh::FakeGitHub good(etl::systemClock());
  good.serve("/users/x", R"({"login":"x","id":1})");
  good.startTls(dir / "trusted.pem", dir / "trusted.key");
  etl::HttpRequest request;
  request.url = good.baseUrl() + "/users/x";
  ASSERT_EQ(request.url.rfind("https://", 0), 0u);
  auto response = client.get(request, stop);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"login":"x","id":1})");

  fakegh::FakeGitHub impostor(etl::systemClock());
  impostor.serve("/users/x", R"({"login":"x","id":1})");
  impostor.startTls(dir / "untrusted.pem", dir / "untrusted.key");
  request.url = impostor.baseUrl() + "/users/x";
  try {
    client.get(request, stop);
    FAIL() << "a server with an untrusted certificate was accepted";
  } catch (const etl::RetryableError&) {
    FAIL() << "a certificate failure must not be retried as if it were transient";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("certificate"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(impostor.requests().empty()) << "a request reached the impostor";
}

TEST(Https, ACredentialNeverGoesFromHttpsDownToHttp) {
  const etltest::TempDir& dir = certificates();
  etl::QuotaHttpClient client(etl::systemClock());
  etl::StopSignal stop;
  fakegh::FakeGitHub plain(etl::systemClock());  // what a downgrade would reach, in clear text
  plain.serve("/users/x", R"({"login":"x","id":1})");
  plain.start();
  fakegh::FakeGitHub api(etl::systemClock());
  api.redirect("/users/x", plain.baseUrl() + "/users/x");
  api.startTls(dir / "trusted.pem", dir / "trusted.key");

  // A redirect from https to http is refused, with or without a token, and not retried.
  for (std::string token : {"ghp_secret", ""}) {
    etl::HttpRequest request;
    request.url = api.baseUrl() + "/users/x";
    request.token = token;
    try {
      client.get(request, stop);
      FAIL() << "an https -> http redirect was followed";
    } catch (const etl::RetryableError& e) {
      FAIL() << "a downgrade is not transient: " << e.what();
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("plain http"), std::string::npos) << e.what();
    }
  }
  // A link (pagination) that leaves the https origin for http is refused the same way.
  etl::HttpRequest link;
  link.url = plain.baseUrl() + "/users/x";
  link.token = "ghp_secret";
  link.credentialOrigin = api.baseUrl();
  EXPECT_THROW(client.get(link, stop), std::runtime_error);
  EXPECT_TRUE(plain.requests().empty()) << "a request went out over plain http";
}

}  // namespace
