// GitHub's webhook signature: X-Hub-Signature-256 is "sha256=" and the hex HMAC-SHA256 of the
// body with the webhook's secret. Compared in constant time, so that timing tells an attacker
// nothing about how much of a forged signature was right.
#pragma once

#include <string>

namespace etl_http {

std::string hmacSha256Hex(const std::string& secret, const std::string& body);
bool signatureMatches(const std::string& secret, const std::string& body,
                      const std::string& header);

}  // namespace etl_http
