// The webhook receiver (http_listen) through the real etlrun and the shipped
// pipelines/github-webhook.yaml: deliveries signed right and wrong, a redelivery, a ping, a body
// too large, and kill -9 while senders post (retrying what was not answered 200, as GitHub
// does): every delivery answered 200 is stored, each once, and none with a bad signature is.
#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/SHA2Engine.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "postgres_env.h"
#include "test_env.h"

namespace {

using namespace std::chrono_literals;

const std::string kSecret = "It's a Secret to Everybody";

class Sha256 : public Poco::SHA2Engine {
 public:
  enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
};

std::string signature(const std::string& secret, const std::string& body) {
  Poco::HMACEngine<Sha256> hmac(secret);
  hmac.update(body);
  return "sha256=" + Poco::DigestEngine::digestToHex(hmac.digest());
}

// A push delivery as GitHub sends it (the fields the pipeline reads, and some it does not).
std::string pushPayload(int n) {
  std::string sha = std::to_string(1000000 + n);
  return R"({"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000",)"
         R"("after":"a1b2c3)" +
         sha +
         R"(","created":false,"deleted":false,"forced":false,)"
         R"("commits":[{"id":"a1b2c3)" +
         sha + R"(","distinct":true,"message":"change )" + std::to_string(n) +
         R"(\n\nwith a body","timestamp":"2026-12-03T10:00:00Z","url":"https://github.com/octo/repo/commit/a1b2c3)" +
         sha +
         R"(","author":{"name":"Octo Cat","email":"octo@example.com","username":"octocat"}}],)"
         R"("repository":{"id":1296269,"name":"Hello-World","full_name":"octocat/Hello-World",)"
         R"("private":false,"owner":{"login":"octocat","id":1}},)"
         R"("pusher":{"name":"octocat","email":"octo@example.com"},)"
         R"("sender":{"login":"octocat","id":1,"type":"User"}})";
}

struct Answer {
  int status = 0;
  std::string body;
};

Answer post(unsigned short port, const std::string& event, const std::string& delivery,
            const std::string& body, const std::string& signatureHeader) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(20, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/github",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.set("X-GitHub-Event", event);
    request.set("X-GitHub-Delivery", delivery);
    if (!signatureHeader.empty()) request.set("X-Hub-Signature-256", signatureHeader);
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Answer answer{static_cast<int>(response.getStatus()), {}};
    answer.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return answer;
  } catch (const Poco::Exception&) {
    return {0, "no answer"};  // not listening (yet, or any more)
  }
}

// Sends only the headers of a POST announcing `length` bytes; returns the answer's first line.
std::string announceOnly(unsigned short port, std::size_t length) {
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
  socket.setReceiveTimeout(Poco::Timespan(10, 0));
  std::string head =
      "POST /github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "X-GitHub-Event: push\r\nContent-Length: " +
      std::to_string(length) + "\r\n\r\n";
  socket.sendBytes(head.data(), static_cast<int>(head.size()));
  char buffer[256];
  int n = socket.receiveBytes(buffer, sizeof buffer);
  std::string answer(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
  return answer.substr(0, answer.find("\r\n"));
}

std::string delivery(int n) {
  char id[64];
  std::snprintf(id, sizeof id, "%08x-1f2e-11ef-8b3a-%012d", 0x7a000000 + n, n);
  return id;
}

class Webhook : public testing::Test {
 protected:
  int start() {
    pid_ = etltest::startEtlrun({"--state-dir=" + (dir_ / "state"),
                                 etltest::sourceDir() + "/pipelines/github-webhook.yaml"},
                                dir_ / "out", dir_ / ("err" + std::to_string(++runs_)),
                                {{"GITHUB_WEBHOOK_SECRET", kSecret},
                                 {"WEBHOOK_LISTEN", "127.0.0.1:0"},
                                 {"ETL_DATABASE", db_.uri()}});
    std::smatch port;
    bool listening = etltest::waitUntil(
        [&] {
          std::string log = etltest::readFile(dir_ / ("err" + std::to_string(runs_)));
          static const std::regex address("http://127\\.0\\.0\\.1:([0-9]+)/github");
          if (!std::regex_search(log, port, address)) return false;
          port_ = static_cast<unsigned short>(std::stoi(port[1]));
          return true;
        },
        30);
    EXPECT_TRUE(listening) << log();
    return pid_;
  }
  std::string log() const { return etltest::readFile(dir_ / ("err" + std::to_string(runs_))); }
  Answer send(int n, const std::string& event = "push") {
    std::string body =
        event == "push" ? pushPayload(n) : R"({"zen":"Keep it simple.","hook_id":7})";
    return post(port_, event, delivery(n), body, signature(kSecret, body));
  }

  etltest::TempDir dir_;
  etltest::TestDatabase db_;
  int pid_ = 0, runs_ = 0;
  unsigned short port_ = 0;
};

TEST_F(Webhook, SignedDeliveriesAreStoredOnceAndForgedOnesNever) {
  start();
  Answer good = send(1);
  EXPECT_EQ(good.status, 200) << good.body << log();
  // The same delivery again (GitHub's redelivery): answered 200, stored once.
  EXPECT_EQ(send(1).status, 200);
  // A wrong secret, no signature, a tampered body: 401, nothing stored.
  std::string body = pushPayload(2);
  EXPECT_EQ(post(port_, "push", delivery(2), body, signature("wrong", body)).status, 401);
  EXPECT_EQ(post(port_, "push", delivery(3), pushPayload(3), "").status, 401);
  std::string tampered = pushPayload(4);
  std::string signedFor = signature(kSecret, tampered);
  tampered.replace(tampered.find("octocat/Hello-World"), 19, "evil/Hello-World123");
  EXPECT_EQ(post(port_, "push", delivery(4), tampered, signedFor).status, 401);
  // A ping is acknowledged and is no event.
  EXPECT_EQ(send(5, "ping").status, 200);
  // Too large: refused on its Content-Length, before the body is read.
  EXPECT_EQ(announceOnly(port_, 27 << 20).substr(0, 12), "HTTP/1.1 413");
  ::kill(pid_, SIGTERM);
  EXPECT_EQ(etltest::waitFor(pid_, 20), 0) << log();

  EXPECT_EQ(db_.count("SELECT count(*) FROM github_events"), 1) << log();
  EXPECT_EQ(db_.count("SELECT count(*) FROM github_events WHERE event_id = 'webhook-" +
                      delivery(1) + "' AND type = 'PushEvent' AND repo_id = 1296269"),
            1);
  EXPECT_EQ(db_.count("SELECT count(*) FROM push_events WHERE push_id < 0 AND ref = "
                      "'refs/heads/main' AND repo_name = 'octocat/Hello-World' AND "
                      "commit_count = 1 AND actor_login = 'octocat'"),
            1);
  EXPECT_EQ(log().find(kSecret), std::string::npos) << "the secret was logged";
  EXPECT_NE(log().find("missing or wrong X-Hub-Signature-256"), std::string::npos) << log();
}

// Senders post concurrently and retry until they get 200 (GitHub redelivers what failed); etlrun
// is killed (-9) at a random moment and started again. Whatever was answered 200 before the kill
// is stored; in the end every delivery is stored, each once.
TEST_F(Webhook, KilledWhileReceivingEveryAcknowledgedDeliveryIsStoredOnce) {
  unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  start();
  const int total = 240;
  std::atomic<int> next{0};
  std::mutex mutex;
  std::set<int> acknowledged;
  std::set<int> acknowledgedBeforeKill;
  auto sender = [&] {
    for (int n; (n = next.fetch_add(1)) < total;) {
      for (int attempt = 0; attempt < 400; ++attempt) {
        Answer answer = send(n);
        if (answer.status == 200) {
          std::lock_guard<std::mutex> lock(mutex);
          acknowledged.insert(n);
          break;
        }
        std::this_thread::sleep_for(50ms);  // refused, unanswered or not listening: again
      }
    }
  };
  std::vector<std::thread> senders;
  for (int i = 0; i < 6; ++i) senders.emplace_back(sender);
  std::this_thread::sleep_for(std::chrono::milliseconds(200 + random() % 800));
  {
    std::lock_guard<std::mutex> lock(mutex);
    ::kill(pid_, SIGKILL);
    acknowledgedBeforeKill = acknowledged;
  }
  etltest::waitFor(pid_);
  // Answered 200 means committed: all of those are there while etlrun is down.
  for (int n : acknowledgedBeforeKill) {
    ASSERT_EQ(db_.count("SELECT count(*) FROM github_events WHERE event_id = 'webhook-" +
                        delivery(n) + "'"),
              1)
        << "delivery " << n << " was answered 200 before the kill but is not stored";
  }
  start();
  for (auto& s : senders) s.join();
  ::kill(pid_, SIGTERM);
  EXPECT_EQ(etltest::waitFor(pid_, 20), 0) << log();
  EXPECT_EQ(acknowledged.size(), static_cast<std::size_t>(total));
  EXPECT_GT(acknowledgedBeforeKill.size(), 0u) << "the kill came before any delivery";
  EXPECT_EQ(db_.count("SELECT count(*) FROM github_events"), total) << log();
  EXPECT_EQ(db_.count("SELECT count(DISTINCT event_id) FROM github_events"), total);
  EXPECT_EQ(db_.count("SELECT count(*) FROM push_events"), total);
}

// Plain mode over HTTPS (tls_cert, tls_key): the body is the record, keyed by the header named
// by key_header; a body that is not JSON is the sender's mistake (400) and stores nothing.
TEST(WebhookTls, PlainDeliveriesOverHttpsAreStoredAndABodyThatIsNotJsonIsRefused) {
  etltest::TempDir dir;
  ASSERT_EQ(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                         "-keyout " +
                         (dir / "key.pem") + " -out " + (dir / "cert.pem") + " > /dev/null 2>&1")
                            .c_str()),
            0);
  etltest::writeFile(dir / "p.yaml",
                     "pipelines:\n  hooks:\n    source: {plugin: http_listen, listen: "
                     "\"127.0.0.1:0\", path: /in, key_header: Idempotency-Key, tls_cert: \"" +
                         (dir / "cert.pem") + "\", tls_key: \"" + (dir / "key.pem") +
                         "\"}\n    sink: {plugin: jsonl, path: \"" + (dir / "out.jsonl") +
                         "\", format: envelope}\n");
  int pid = etltest::startEtlrun({"--state-dir=" + (dir / "state"), dir / "p.yaml"}, dir / "out",
                                 dir / "err");
  std::smatch match;
  std::string log;
  ASSERT_TRUE(etltest::waitUntil(
      [&] {
        log = etltest::readFile(dir / "err");
        static const std::regex address("https://127\\.0\\.0\\.1:([0-9]+)/in");
        return std::regex_search(log, match, address);
      },
      30))
      << log;
  // Python's client, certificate not checked (self-signed): what a sender on the internet does.
  std::string client =
      "import ssl, sys, urllib.request\n"
      "ctx = ssl.create_default_context(); ctx.check_hostname = False; "
      "ctx.verify_mode = ssl.CERT_NONE\n"
      "for body in [b'{\"order\": 1}', b'not json']:\n"
      "    req = urllib.request.Request('https://127.0.0.1:" +
      match[1].str() +
      "/in', data=body, headers={'Idempotency-Key': 'k-1', 'Content-Type': 'application/json'})\n"
      "    try:\n"
      "        print(urllib.request.urlopen(req, context=ctx, timeout=20).status)\n"
      "    except urllib.error.HTTPError as e:\n"
      "        print(e.code)\n";
  auto sent = etltest::runProcess("/usr/bin/python3", {"-c", client});
  ::kill(pid, SIGTERM);
  EXPECT_EQ(etltest::waitFor(pid, 20), 0) << etltest::readFile(dir / "err");
  EXPECT_EQ(sent.out, "200\n400\n") << sent.err << etltest::readFile(dir / "err");
  auto lines = etltest::readFile(dir / "out.jsonl");
  EXPECT_NE(lines.find("\"key\":\"k-1\""), std::string::npos) << lines;
  EXPECT_NE(lines.find("{\"order\": 1}"), std::string::npos) << lines;
  EXPECT_EQ(lines.find("not json"), std::string::npos) << lines;
}

}  // namespace
