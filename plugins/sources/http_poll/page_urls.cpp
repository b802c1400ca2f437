#include "page_urls.h"

#include <Poco/String.h>
#include <Poco/URI.h>

#include <vector>

namespace http_poll {
namespace {

std::string percentEncoded(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct SplitUrl {
  std::string base;      // up to the '?'
  std::string query;     // without the '?'
  std::string fragment;  // with its '#', or ""
};

SplitUrl split(const std::string& url) {
  SplitUrl parts;
  std::string rest = url;
  std::size_t hash = rest.find('#');
  if (hash != std::string::npos) parts.fragment = rest.substr(hash), rest.erase(hash);
  std::size_t question = rest.find('?');
  parts.base = rest.substr(0, question);
  if (question != std::string::npos) parts.query = rest.substr(question + 1);
  return parts;
}

std::vector<std::string> queryItems(const std::string& query) {
  std::vector<std::string> items;
  std::size_t from = 0;
  while (from <= query.size() && !query.empty()) {
    std::size_t amp = query.find('&', from);
    std::string item =
        query.substr(from, amp == std::string::npos ? std::string::npos : amp - from);
    if (!item.empty()) items.push_back(item);
    if (amp == std::string::npos) break;
    from = amp + 1;
  }
  return items;
}

std::string nameOf(const std::string& item) {
  std::string decoded;
  Poco::URI::decode(item.substr(0, item.find('=')), decoded);
  return decoded;
}

std::string joined(const SplitUrl& parts, const std::vector<std::string>& items) {
  std::string url = parts.base;
  for (std::size_t i = 0; i < items.size(); ++i) url += (i == 0 ? "?" : "&") + items[i];
  return url + parts.fragment;
}

bool looksSecret(const std::string& name) {
  std::string lower = Poco::toLower(name);
  for (const char* word : {"key", "token", "secret", "password", "passwd", "signature",
                           "credential", "auth", "session"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return lower == "sig" || lower == "code";
}

}  // namespace

std::string withQueryParameter(const std::string& url, const std::string& name,
                               const std::string& value) {
  SplitUrl parts = split(url);
  std::vector<std::string> kept;
  for (const auto& item : queryItems(parts.query)) {
    if (nameOf(item) != name) kept.push_back(item);
  }
  kept.push_back(percentEncoded(name) + "=" + percentEncoded(value));
  return joined(parts, kept);
}

std::string redactedUrl(const std::string& url) {
  SplitUrl parts = split(url);
  // user:password@host -> host
  std::size_t scheme = parts.base.find("://");
  if (scheme != std::string::npos) {
    std::size_t hostStart = scheme + 3;
    std::size_t pathStart = parts.base.find('/', hostStart);
    std::size_t at =
        parts.base.rfind('@', pathStart == std::string::npos ? std::string::npos : pathStart);
    if (at != std::string::npos && at >= hostStart) parts.base.erase(hostStart, at + 1 - hostStart);
  }
  std::vector<std::string> items;
  for (const auto& item : queryItems(parts.query)) {
    std::size_t equals = item.find('=');
    if (equals != std::string::npos && looksSecret(nameOf(item))) {
      items.push_back(item.substr(0, equals) + "=***");
    } else {
      items.push_back(item);
    }
  }
  return joined(parts, items);
}

}  // namespace http_poll
