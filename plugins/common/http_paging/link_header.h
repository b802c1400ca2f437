// RFC 8288 Link header, as GitHub sends it: <https://api.github.com/events?page=2>; rel="next", ...
#pragma once

#include <map>
#include <string>

namespace github {
// rel -> URL, URLs verbatim (GitHub may switch to id-based paths; never rebuild them).
std::map<std::string, std::string> parseLinkHeader(const std::string& header);
}  // namespace github
