// GH Archive names hours without zero padding (2021-07-21-6 before 2021-07-21-10), so files are
// ordered by comparing runs of digits as numbers.
#pragma once

#include <string>

namespace etl_file {
bool naturalLess(const std::string& a, const std::string& b);
}
