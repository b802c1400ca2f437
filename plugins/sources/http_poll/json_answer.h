// One answer of a JSON API: the records it holds (each element's bytes verbatim) and, for
// `pagination: next_field`, where the next page is.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace http_poll {

struct Answer {
  std::vector<std::string> records;  // each element's JSON exactly as the server sent it
  std::optional<std::string>
      next;  // the value at the next path: a URL or a cursor; none at the end
};

// The answer does not hold what the pipeline says it holds: not JSON, no array at the records
// path, a next field of the wrong kind. The message says which, not where (the caller adds that).
class AnswerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `recordsPath`: a dotted path ("data.results") to the array of records; "" = the answer itself is
// the array, or one object is one record. `nextPath`: a dotted path to the next page's URL or
// cursor, "" = none. The whole body is validated first: a truncated or damaged answer yields no
// record at all. An element that is not an object still becomes a record: the sink decides.
Answer parseAnswer(const std::string& body, const std::string& recordsPath,
                   const std::string& nextPath);

}  // namespace http_poll
