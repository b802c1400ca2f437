// File names are bytes; a checkpoint is stored as text. A name that is not valid UTF-8 is kept in
// base64 behind a "b64:" prefix, so one odd file name cannot make the checkpoint unstorable.
#pragma once

#include <string>

namespace etl_file {

std::string encodeName(const std::string& name);
std::string decodeName(const std::string& text);

}  // namespace etl_file
