#include "json_answer.h"

#include <simdjson.h>

namespace http_poll {
namespace {

// "data.results" -> "/data/results" (RFC 6901: ~ and / escaped; a numeric part indexes an array).
std::string pointerOf(const std::string& dotted) {
  if (dotted.empty()) return {};
  std::string pointer = "/";
  for (char c : dotted) {
    if (c == '.') {
      pointer += '/';
    } else if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
  return pointer;
}

const char* kindOf(simdjson::dom::element_type type) {
  switch (type) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "a number";
  }
}

// The element at `pointer` of `root`, or nullopt when the path leads nowhere (a member missing, an
// index past the end, a step into a scalar).
std::optional<simdjson::dom::element> find(simdjson::dom::element root,
                                           const std::string& pointer) {
  if (pointer.empty()) return root;
  simdjson::dom::element found;
  if (root.at_pointer(pointer).get(found)) return std::nullopt;
  return found;
}

std::optional<std::string> nextOf(simdjson::dom::element root, const std::string& nextPath) {
  if (nextPath.empty()) return std::nullopt;
  auto next = find(root, pointerOf(nextPath));
  if (!next) return std::nullopt;
  switch (next->type()) {
    case simdjson::dom::element_type::NULL_VALUE:
      return std::nullopt;
    case simdjson::dom::element_type::BOOL:
      if (!next->get_bool().value()) return std::nullopt;  // "has_more": false style
      break;
    case simdjson::dom::element_type::STRING: {
      std::string_view text = next->get_string().value();
      if (text.empty()) return std::nullopt;
      return std::string(text);
    }
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return simdjson::to_string(*next);  // a numeric cursor
    default:
      break;
  }
  throw AnswerError("next_field '" + nextPath + "' holds " + kindOf(next->type()) +
                    ", not the next page's URL or cursor");
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

// The bytes of one element as the server wrote them.
std::string rawOf(simdjson::ondemand::value element) {
  simdjson::ondemand::json_type type;
  std::string_view raw;
  simdjson::error_code error = element.type().get(type);
  if (!error) {
    if (type == simdjson::ondemand::json_type::object) {
      simdjson::ondemand::object object;
      error = element.get_object().get(object);
      if (!error) error = object.raw_json().get(raw);
    } else if (type == simdjson::ondemand::json_type::array) {
      simdjson::ondemand::array array;
      error = element.get_array().get(array);
      if (!error) error = array.raw_json().get(raw);
    } else {
      raw = element.raw_json_token();
    }
  }
  if (error) {
    throw AnswerError(std::string("unreadable record: ") + simdjson::error_message(error));
  }
  return trimmed(raw);
}

}  // namespace

Answer parseAnswer(const std::string& body, const std::string& recordsPath,
                   const std::string& nextPath) {
  simdjson::padded_string padded(body);
  // Every byte checked before any record is taken: a truncated answer gives none.
  simdjson::dom::parser validator;
  simdjson::dom::element root;
  if (auto error = validator.parse(padded).get(root)) {
    throw AnswerError(std::string("the answer is not JSON (") + simdjson::error_message(error) +
                      ")");
  }
  Answer answer;
  answer.next = nextOf(root, nextPath);
  const std::string pointer = pointerOf(recordsPath);
  auto records = find(root, pointer);
  if (!records) {
    throw AnswerError("the answer has no '" + recordsPath + "' (records: the path to its array)");
  }
  if (records->type() == simdjson::dom::element_type::OBJECT && recordsPath.empty()) {
    answer.records.push_back(trimmed(body));  // one object, one record
    return answer;
  }
  if (records->type() != simdjson::dom::element_type::ARRAY) {
    throw AnswerError(
        (recordsPath.empty() ? std::string("the answer") : "'" + recordsPath + "' of the answer") +
        " is " + kindOf(records->type()) + ", not an array of records" +
        (recordsPath.empty() ? " (set records: to the path of its array)" : ""));
  }
  // The DOM re-writes numbers and strings; the on-demand parser hands out the original bytes.
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::value array;
  simdjson::error_code error = parser.iterate(padded).get(doc);
  if (!error) {
    error = pointer.empty() ? doc.get_value().get(array) : doc.at_pointer(pointer).get(array);
  }
  simdjson::ondemand::array elements;
  if (!error) error = array.get_array().get(elements);
  if (error) {
    throw AnswerError(std::string("unreadable records: ") + simdjson::error_message(error));
  }
  for (auto element : elements) {
    simdjson::ondemand::value value;
    if ((error = element.get(value))) {
      throw AnswerError(std::string("unreadable record: ") + simdjson::error_message(error));
    }
    answer.records.push_back(rawOf(value));
  }
  return answer;
}

}  // namespace http_poll
