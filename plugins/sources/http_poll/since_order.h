// How values of since_field are ordered: the greatest one seen is what the next poll asks from.
#pragma once

#include <string>

namespace http_poll {

// <0, 0 or >0 as `a` comes before, with or after `b`. Two integers compare by value whatever their
// length (64-bit ids and longer); two other numbers as numbers; anything else as text, which orders
// ISO 8601 times written in one format (2024-05-01T10:00:00Z) by time.
int compareSince(const std::string& a, const std::string& b);

}  // namespace http_poll
