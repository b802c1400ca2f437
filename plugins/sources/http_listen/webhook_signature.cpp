#include "webhook_signature.h"

#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/SHA2Engine.h>

namespace etl_http {

namespace {

// Poco's HMACEngine wants the block and digest sizes as constants of the engine.
class Sha256 : public Poco::SHA2Engine {
 public:
  enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
  Sha256() : Poco::SHA2Engine(SHA_256) {}
};

}  // namespace

std::string hmacSha256Hex(const std::string& secret, const std::string& body) {
  Poco::HMACEngine<Sha256> hmac(secret);
  hmac.update(body);
  return Poco::DigestEngine::digestToHex(hmac.digest());
}

bool signatureMatches(const std::string& secret, const std::string& body,
                      const std::string& header) {
  const std::string expected = "sha256=" + hmacSha256Hex(secret, body);
  // Every byte is compared whatever the differences: no early exit.
  unsigned char difference = header.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    unsigned char got = i < header.size() ? static_cast<unsigned char>(header[i]) : 0;
    difference |= static_cast<unsigned char>(got ^ static_cast<unsigned char>(expected[i]));
  }
  return difference == 0;
}

}  // namespace etl_http
