#include "file_names.h"

#include <Poco/Base64Decoder.h>

#include <iterator>
#include <sstream>

#include "etl/text.h"

namespace etl_file {

std::string encodeName(const std::string& name) {
  if (etl::isStorableText(name) && name.rfind("b64:", 0) != 0) return name;
  return "b64:" + etl::base64(name);
}

std::string decodeName(const std::string& text) {
  if (text.rfind("b64:", 0) != 0) return text;
  std::istringstream in(text.substr(4));
  Poco::Base64Decoder decoder(in);
  return std::string((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
}

}  // namespace etl_file
