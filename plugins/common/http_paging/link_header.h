// RFC 8288 Link header, as GitHub and most paginated APIs send it:
// <https://api.github.com/events?page=2>; rel="next", <https://api.github.com/events?page=10>;
// rel="last"
#pragma once

#include <map>
#include <string>

namespace http_paging {

// rel -> URL, URLs verbatim (an API may switch to id-based paths; never rebuild them).
std::map<std::string, std::string> parseLinkHeader(const std::string& header);

// The rel="next" URL of a Link header, a relative one resolved against `pageUrl` (the page it came
// with); "" when there is none.
std::string nextLink(const std::string& header, const std::string& pageUrl);

}  // namespace http_paging
