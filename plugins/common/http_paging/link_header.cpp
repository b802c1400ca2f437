#include "link_header.h"

#include <Poco/URI.h>

namespace http_paging {

std::map<std::string, std::string> parseLinkHeader(const std::string& header) {
  std::map<std::string, std::string> links;
  std::size_t pos = 0;
  while ((pos = header.find('<', pos)) != std::string::npos) {
    std::size_t close = header.find('>', pos);
    if (close == std::string::npos) break;
    std::string url = header.substr(pos + 1, close - pos - 1);
    std::size_t next = header.find('<', close);
    std::string params =
        header.substr(close + 1, next == std::string::npos ? std::string::npos : next - close - 1);
    std::size_t rel = params.find("rel=");
    if (rel != std::string::npos) {
      std::size_t start = rel + 4;
      bool quoted = start < params.size() && params[start] == '"';
      if (quoted) ++start;
      std::size_t end = params.find_first_of(quoted ? "\"" : ";, ", start);
      std::string names =
          params.substr(start, end == std::string::npos ? std::string::npos : end - start);
      // rel may hold several space-separated names.
      std::size_t from = 0;
      while (from < names.size()) {
        std::size_t space = names.find(' ', from);
        std::string name =
            names.substr(from, space == std::string::npos ? std::string::npos : space - from);
        if (!name.empty()) links[name] = url;
        if (space == std::string::npos) break;
        from = space + 1;
      }
    }
    pos = close + 1;
  }
  return links;
}

std::string nextLink(const std::string& header, const std::string& pageUrl) {
  auto links = parseLinkHeader(header);
  auto next = links.find("next");
  if (next == links.end() || next->second.empty()) return {};
  return Poco::URI(Poco::URI(pageUrl), next->second).toString();
}

}  // namespace http_paging
