// The URLs a poll asks for: the first page with the since parameter, a cursor's page, and the form
// of a URL that may be logged.
#pragma once

#include <string>

namespace http_poll {

// `url` with its query parameter `name` set to `value` (percent-encoded), replacing any value the
// parameter had; the other parameters are left byte for byte.
std::string withQueryParameter(const std::string& url, const std::string& name,
                               const std::string& value);

// `url` as it may appear in logs, errors and metrics: no user:password@, and the values of query
// parameters named like credentials (api_key, token, secret, password, signature, ...) as ***.
std::string redactedUrl(const std::string& url);

}  // namespace http_poll
