// Record's JSON view: simdjson on-demand, one iteration per lookup (stage 1 of a 3 KB event costs
// about a microsecond; decoding only the requested field is what makes it 60x faster than a DOM).
#include "etl/record.h"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

namespace etl {
namespace {

// "payload.push_id" -> "/payload/push_id" (RFC 6901 escaping for '~' and '/').
std::string toJsonPointer(std::string_view path) {
  std::string pointer;
  pointer.reserve(path.size() + 2);
  pointer.push_back('/');
  for (char c : path) {
    if (c == '.') {
      pointer.push_back('/');
    } else if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer.push_back(c);
    }
  }
  return pointer;
}

const char* typeLabel(simdjson::ondemand::json_type type) {
  switch (type) {
    case simdjson::ondemand::json_type::array:
      return "an array";
    case simdjson::ondemand::json_type::object:
      return "an object";
    case simdjson::ondemand::json_type::number:
      return "a number";
    case simdjson::ondemand::json_type::string:
      return "a string";
    case simdjson::ondemand::json_type::boolean:
      return "a boolean";
    case simdjson::ondemand::json_type::null:
      return "null";
  }
  return "unknown";
}

template <class T>
const char* wanted();
template <>
const char* wanted<int64_t>() {
  return "an integer";
}
template <>
const char* wanted<uint64_t>() {
  return "an unsigned integer";
}
template <>
const char* wanted<double>() {
  return "a number";
}
template <>
const char* wanted<bool>() {
  return "a boolean";
}
template <>
const char* wanted<std::string>() {
  return "a string";
}

template <class T>
simdjson::error_code read(simdjson::ondemand::value& value, T& out);
template <>
simdjson::error_code read(simdjson::ondemand::value& v, int64_t& out) {
  return v.get_int64().get(out);
}
template <>
simdjson::error_code read(simdjson::ondemand::value& v, uint64_t& out) {
  return v.get_uint64().get(out);
}
template <>
simdjson::error_code read(simdjson::ondemand::value& v, double& out) {
  return v.get_double().get(out);
}
template <>
simdjson::error_code read(simdjson::ondemand::value& v, bool& out) {
  return v.get_bool().get(out);
}
template <>
simdjson::error_code read(simdjson::ondemand::value& v, std::string& out) {
  std::string_view view;
  auto error = v.get_string().get(view);
  if (!error) out.assign(view.data(), view.size());
  return error;
}

// simdjson reads up to SIMDJSON_PADDING bytes past the end; records reserve that much capacity so
// parsing never copies. A record whose buffer lacks it (rare) is copied into a padded buffer.
simdjson::padded_string_view paddedView(const std::string& raw) {
  if (raw.capacity() - raw.size() >= simdjson::SIMDJSON_PADDING) {
    return simdjson::padded_string_view(raw.data(), raw.size(), raw.capacity());
  }
  thread_local std::string scratch;
  scratch.reserve(raw.size() + simdjson::SIMDJSON_PADDING);
  scratch.assign(raw);
  return simdjson::padded_string_view(scratch.data(), scratch.size(), scratch.capacity());
}

enum class Lookup { Found, Missing, Null };

std::atomic<uint64_t> nextIdentity{1};

// The last record parsed on this thread. On-demand documents can be rewound, so lookups of
// several fields of one record (a transform reading five fields) share the structural index of
// a single parse. Any lookup that does not end cleanly drops the entry: simdjson does not promise
// a document is reusable after an error.
// Which record a thread-local parse belongs to: its identity and the bytes it was parsed from.
struct CachedFor {
  uint64_t identity = 0;
  const char* data = nullptr;
  std::size_t size = 0;

  bool is(uint64_t id, const std::string& raw) const {
    return id != 0 && identity == id && data == raw.data() && size == raw.size();
  }
  // A record without padding was parsed from a reused scratch buffer: never cache that.
  void set(uint64_t id, const std::string& raw) {
    identity = 0;
    if (raw.capacity() - raw.size() >= simdjson::SIMDJSON_PADDING) {
      identity = id, data = raw.data(), size = raw.size();
    }
  }
  void clear() { identity = 0; }
};

struct ParseCache {
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  CachedFor key;
};

ParseCache& parseCache() {
  thread_local ParseCache cache;
  return cache;
}

simdjson::ondemand::document& parsed(uint64_t identity, const std::string& raw) {
  ParseCache& cache = parseCache();
  if (cache.key.is(identity, raw)) {
    return cache.doc;
  }
  cache.key.clear();
  auto error = cache.parser.iterate(paddedView(raw)).get(cache.doc);
  if (error) throw FieldError("invalid JSON: " + std::string(simdjson::error_message(error)));
  cache.key.set(identity, raw);
  return cache.doc;
}

template <class T>
Lookup lookupValue(uint64_t identity, const std::string& raw, std::string_view path, T& out) {
  simdjson::ondemand::document& doc = parsed(identity, raw);
  simdjson::ondemand::value value;
  auto error = doc.at_pointer(toJsonPointer(path)).get(value);
  if (error == simdjson::NO_SUCH_FIELD || error == simdjson::INDEX_OUT_OF_BOUNDS) {
    return Lookup::Missing;
  }
  if (error == simdjson::INCORRECT_TYPE) {
    throw FieldError("field '" + std::string(path) + "': a parent is not an object or array");
  }
  if (error) {
    throw FieldError("field '" + std::string(path) +
                     "': invalid JSON: " + simdjson::error_message(error));
  }
  simdjson::ondemand::json_type type;
  if ((error = value.type().get(type))) {
    throw FieldError("field '" + std::string(path) + "': " + simdjson::error_message(error));
  }
  if (type == simdjson::ondemand::json_type::null) return Lookup::Null;
  error = read(value, out);
  if (error) {
    std::string reason = error == simdjson::INCORRECT_TYPE || error == simdjson::NUMBER_ERROR
                             ? std::string(typeLabel(type))
                             : simdjson::error_message(error);
    throw FieldError("field '" + std::string(path) + "' is " + reason + ", expected " +
                     wanted<T>());
  }
  return Lookup::Found;
}

template <class T>
Lookup lookup(uint64_t identity, const std::string& raw, std::string_view path, T& out) {
  try {
    Lookup result = lookupValue(identity, raw, path, out);
    if (result != Lookup::Found) parseCache().key.clear();
    return result;
  } catch (...) {
    parseCache().key.clear();
    throw;
  }
}

}  // namespace

namespace {

// The last record fully validated on this thread, kept as a DOM: text() lookups on it that follow
// (a sink validating a record, then reading its columns) need no second parse.
struct DomCache {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  CachedFor key;
};

DomCache& domCache() {
  thread_local DomCache cache;
  return cache;
}

// text() on the DOM: the same rendering as on-demand's, numbers and containers re-serialised
// (minified), which every database input function reads the same way.
// A field's text from the parsed DOM; a number with a fraction or an exponent sets `number`
// instead (the DOM keeps its value, not the digits as written: 1.10 would come back 1.1, 1E+2 as
// 100.0). Plain integers come back exactly.
std::optional<std::string> domText(simdjson::dom::element root, std::string_view path,
                                   bool& number) {
  simdjson::dom::element value;
  auto error = root.at_pointer(toJsonPointer(path)).get(value);
  if (error == simdjson::NO_SUCH_FIELD || error == simdjson::INDEX_OUT_OF_BOUNDS) {
    return std::nullopt;
  }
  if (error == simdjson::INCORRECT_TYPE) {
    throw FieldError("field '" + std::string(path) + "': a parent is not an object or array");
  }
  if (error)
    throw FieldError("field '" + std::string(path) + "': " + simdjson::error_message(error));
  switch (value.type()) {
    case simdjson::dom::element_type::NULL_VALUE:
      return std::nullopt;
    case simdjson::dom::element_type::STRING: {
      std::string_view text = value.get_string().value_unsafe();
      return std::string(text);
    }
    case simdjson::dom::element_type::BOOL:
      return std::string(value.get_bool().value_unsafe() ? "true" : "false");
    case simdjson::dom::element_type::INT64:  // a plain integer: its digits, exactly
      return std::to_string(value.get_int64().value_unsafe());
    case simdjson::dom::element_type::UINT64:
      return std::to_string(value.get_uint64().value_unsafe());
    case simdjson::dom::element_type::DOUBLE:  // 1.10, 1E+2, -0: only the bytes have them
      number = true;
      return std::nullopt;
    default:
      return simdjson::minify(value);
  }
}

// The first key that one object of `element` holds twice, or nullopt. Which of the two a reader
// sees differs (simdjson, a `where`, the first; PostgreSQL's jsonb, the last): such a record is
// refused, so that a row never contradicts its own stored document.
std::optional<std::string> duplicateKey(simdjson::dom::element element) {
  if (element.type() == simdjson::dom::element_type::ARRAY) {
    simdjson::dom::array array = element.get_array().value_unsafe();
    for (auto item : array) {
      if (auto d = duplicateKey(item)) return d;
    }
    return std::nullopt;
  }
  if (element.type() != simdjson::dom::element_type::OBJECT) return std::nullopt;
  simdjson::dom::object object = element.get_object().value_unsafe();
  // This object's keys, in a buffer every level shares (no allocation once it has grown): few
  // keys are compared pairwise, many sorted.
  thread_local std::vector<std::string_view> keys;
  std::size_t base = keys.size();
  for (auto field : object) keys.push_back(field.key);
  std::size_t n = keys.size() - base;
  std::optional<std::string> twice;
  if (n <= 8) {
    for (std::size_t i = base; i < keys.size() && !twice; ++i) {
      for (std::size_t j = i + 1; j < keys.size(); ++j) {
        if (keys[i] == keys[j]) {
          twice = std::string(keys[i]);
          break;
        }
      }
    }
  } else {
    std::sort(keys.begin() + static_cast<std::ptrdiff_t>(base), keys.end());
    auto found = std::adjacent_find(keys.begin() + static_cast<std::ptrdiff_t>(base), keys.end());
    if (found != keys.end()) twice = std::string(*found);
  }
  keys.resize(base);
  if (twice) return twice;
  for (auto field : object) {
    if (auto d = duplicateKey(field.value)) return d;
  }
  return std::nullopt;
}

// RFC 8259's grammar, for documents simdjson's DOM parser refuses only for a number it cannot
// hold (an integer beyond 64 bits, 1e400): valid JSON, which PostgreSQL's jsonb takes as it is.
// UTF-8 is checked apart. Returns "" when valid.
class SyntaxCheck {
 public:
  explicit SyntaxCheck(std::string_view text) : s_(text) {}
  std::string run() {
    space();
    if (!value(0)) return why_;
    space();
    if (i_ != s_.size()) return "more after the document";
    return {};
  }

 private:
  bool fail(const char* why) {
    why_ = why;
    return false;
  }
  void space() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return fail("an invalid literal");
    i_ += word.size();
    return true;
  }
  bool digits() {
    std::size_t from = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > from;
  }
  bool number() {
    if (s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return fail("an invalid number");
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return fail("an invalid number");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return fail("an invalid number");
    }
    return true;
  }
  int hex4() {
    if (i_ + 4 > s_.size()) return -1;
    int v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  }
  bool string() {
    ++i_;  // the opening quote
    while (i_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return true;
      if (c < 0x20) return fail("a control character in a string");
      if (c != '\\') continue;
      if (i_ >= s_.size()) break;
      char e = s_[i_++];
      if (e == 'u') {
        int u = hex4();
        if (u < 0) return fail("an invalid \\u escape");
        if (u >= 0xD800 && u <= 0xDBFF) {  // a high surrogate needs its low one
          if (s_.substr(i_, 2) != "\\u") return fail("a lone surrogate");
          i_ += 2;
          int low = hex4();
          if (low < 0xDC00 || low > 0xDFFF) return fail("a lone surrogate");
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
          return fail("a lone surrogate");
        }
      } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return fail("an invalid escape");
      }
    }
    return fail("an unterminated string");
  }
  bool value(int depth) {
    if (depth > 1024) return fail("nested too deep");
    if (i_ >= s_.size()) return fail("an empty document");
    char c = s_[i_];
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++i_;
      space();
      if (i_ < s_.size() && s_[i_] == close) {
        ++i_;
        return true;
      }
      std::vector<std::string_view> keys;  // as written (escapes and all)
      for (;;) {
        space();
        if (c == '{') {
          if (i_ >= s_.size() || s_[i_] != '"') return fail("an object key that is not a string");
          std::size_t from = i_;
          if (!string()) return false;
          keys.push_back(s_.substr(from, i_ - from));
          space();
          if (i_ >= s_.size() || s_[i_] != ':') return fail("a missing colon");
          ++i_;
          space();
        }
        if (!value(depth + 1)) return false;
        space();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == close) {
          ++i_;
          std::sort(keys.begin(), keys.end());
          if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
            return fail("a key twice in one object");
          }
          return true;
        }
        return fail("a missing comma or closing bracket");
      }
    }
    if (c == '"') return string();
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    return fail("an unexpected character");
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string why_;
};

}  // namespace

Record::Record(std::string stream, std::string raw, std::string key)
    : identity_(nextIdentity++),
      stream_(std::move(stream)),
      raw_(std::make_shared<const std::string>(padded(std::move(raw)))),
      key_(std::move(key)) {}

// A copy shares the bytes; its own identity keeps the parse cache per object.
Record::Record(const Record& other)
    : identity_(nextIdentity++),
      stream_(other.stream_),
      raw_(other.raw_),
      key_(other.key_),
      metadata_(other.metadata_),
      origin_(other.origin_) {}

std::shared_ptr<const Record> Record::originOf(const Record& input) {
  return input.origin_ ? input.origin_ : std::make_shared<const Record>(input);
}

Record& Record::operator=(const Record& other) {
  if (this != &other) {
    Record copy(other);
    *this = std::move(copy);
  }
  return *this;
}

static_assert(Record::kPadding >= simdjson::SIMDJSON_PADDING, "Record::kPadding is too small");

const std::string& Record::empty() {
  static const std::string none = padded("");
  return none;
}

std::string Record::padded(std::string raw) {
  std::size_t wanted = raw.size() + kPadding;
  if (raw.capacity() < wanted) {
    raw.reserve(wanted);
  } else if (raw.capacity() > 2 * wanted) {
    // A buffer grown by doubling (getline, appends) would keep up to twice the record's size
    // alive for as long as the record: memory a bounded pipeline does not budget for.
    std::string exact;
    exact.reserve(wanted);
    exact.assign(raw);
    return exact;
  }
  return raw;
}

template <class T>
T Record::get(std::string_view path) const {
  T out{};
  switch (lookup(identity_, raw(), path, out)) {
    case Lookup::Found:
      return out;
    case Lookup::Missing:
      throw FieldError("field '" + std::string(path) + "' is missing");
    case Lookup::Null:
      throw FieldError("field '" + std::string(path) + "' is null");
  }
  return out;
}

template <class T>
std::optional<T> Record::find(std::string_view path) const {
  T out{};
  if (lookup(identity_, raw(), path, out) == Lookup::Found) return out;
  return std::nullopt;
}

bool Record::has(std::string_view path) const {
  try {
    simdjson::ondemand::value value;
    bool found = !parsed(identity_, raw()).at_pointer(toJsonPointer(path)).get(value);
    if (!found) parseCache().key.clear();
    return found;
  } catch (const FieldError&) {
    return false;
  }
}

std::optional<std::string> Record::text(std::string_view path) const {
  const DomCache& dom = domCache();
  if (dom.key.is(identity_, raw())) {
    bool number = false;
    auto text = domText(dom.root, path, number);
    if (!number) return text;
    // A number: its digits as written, read from the bytes below.
  }
  try {
    simdjson::ondemand::value value;
    auto error = parsed(identity_, raw()).at_pointer(toJsonPointer(path)).get(value);
    if (error == simdjson::NO_SUCH_FIELD || error == simdjson::INDEX_OUT_OF_BOUNDS) {
      parseCache().key.clear();
      return std::nullopt;
    }
    if (error == simdjson::INCORRECT_TYPE) {
      throw FieldError("field '" + std::string(path) + "': a parent is not an object or array");
    }
    simdjson::ondemand::json_type type;
    if (!error) error = value.type().get(type);
    std::string_view view;
    std::string out;
    if (!error) {
      switch (type) {
        case simdjson::ondemand::json_type::null:
          parseCache().key.clear();
          return std::nullopt;
        case simdjson::ondemand::json_type::string:
          error = value.get_string().get(view);
          break;
        case simdjson::ondemand::json_type::number:
        case simdjson::ondemand::json_type::boolean:
          view = value.raw_json_token();
          while (!view.empty() && (view.back() == ' ' || view.back() == '\n' ||
                                   view.back() == '\r' || view.back() == '\t')) {
            view.remove_suffix(1);
          }
          break;
        case simdjson::ondemand::json_type::object: {
          simdjson::ondemand::object object;
          error = value.get_object().get(object);
          if (!error) error = object.raw_json().get(view);
          break;
        }
        case simdjson::ondemand::json_type::array: {
          simdjson::ondemand::array array;
          error = value.get_array().get(array);
          if (!error) error = array.raw_json().get(view);
          break;
        }
      }
    }
    if (error) {
      throw FieldError("field '" + std::string(path) + "': " + simdjson::error_message(error));
    }
    out.assign(view.data(), view.size());
    return out;
  } catch (...) {
    parseCache().key.clear();
    throw;
  }
}

std::optional<std::size_t> Record::count(std::string_view path) const {
  try {
    simdjson::ondemand::value value;
    simdjson::ondemand::json_type type;
    std::size_t n = 0;
    auto error = parsed(identity_, raw()).at_pointer(toJsonPointer(path)).get(value);
    if (!error) error = value.type().get(type);
    if (!error && type == simdjson::ondemand::json_type::array) {
      error = value.count_elements().get(n);
    } else if (!error && type == simdjson::ondemand::json_type::object) {
      simdjson::ondemand::object object;
      error = value.get_object().get(object);
      for (auto field = object.begin(); !error && field != object.end(); ++field) {
        error = (*field).error();
        ++n;
      }
    } else if (!error) {
      parseCache().key.clear();
      return std::nullopt;
    }
    if (error == simdjson::NO_SUCH_FIELD || error == simdjson::INDEX_OUT_OF_BOUNDS) {
      parseCache().key.clear();
      return std::nullopt;
    }
    if (error) {
      throw FieldError("field '" + std::string(path) + "': " + simdjson::error_message(error));
    }
    return n;
  } catch (...) {
    parseCache().key.clear();
    throw;
  }
}

std::string Record::jsonError() const {
  DomCache& cache = domCache();
  cache.key.clear();
  const std::string& bytes = raw();
  auto error = cache.parser.parse(paddedView(bytes).data(), bytes.size(), false).get(cache.root);
  if (error == simdjson::NUMBER_ERROR || error == simdjson::NUMBER_OUT_OF_RANGE) {
    // Valid JSON with a number beyond what simdjson holds: fields are read from the bytes.
    if (!simdjson::validate_utf8(bytes.data(), bytes.size())) {
      return std::string(simdjson::error_message(simdjson::UTF8_ERROR));
    }
    std::string why = SyntaxCheck(bytes).run();
    return why.empty() ? std::string()
                       : std::string(simdjson::error_message(error)) + " (" + why + ")";
  }
  if (error) return std::string(simdjson::error_message(error));
  if (auto twice = duplicateKey(cache.root)) {
    std::string shown;
    appendJsonString(shown, *twice);
    return "duplicate key " + shown + " in an object";
  }
  cache.key.set(identity_, bytes);
  return {};
}

template int64_t Record::get<int64_t>(std::string_view) const;
template uint64_t Record::get<uint64_t>(std::string_view) const;
template double Record::get<double>(std::string_view) const;
template bool Record::get<bool>(std::string_view) const;
template std::string Record::get<std::string>(std::string_view) const;
template std::optional<int64_t> Record::find<int64_t>(std::string_view) const;
template std::optional<uint64_t> Record::find<uint64_t>(std::string_view) const;
template std::optional<double> Record::find<double>(std::string_view) const;
template std::optional<bool> Record::find<bool>(std::string_view) const;
template std::optional<std::string> Record::find<std::string>(std::string_view) const;

void appendJsonString(std::string& out, std::string_view text) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

}  // namespace etl
