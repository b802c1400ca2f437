#include "since_order.h"

#include <cstdlib>

namespace http_poll {
namespace {

bool isInteger(const std::string& text) {
  std::size_t i = text.size() > 1 && text[0] == '-' ? 1 : 0;
  if (i == text.size()) return false;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

// Non-negative integers without a sign: by length once leading zeros are gone, then by digits.
int compareMagnitude(std::string a, std::string b) {
  a.erase(0, std::min(a.find_first_not_of('0'), a.size()));
  b.erase(0, std::min(b.find_first_not_of('0'), b.size()));
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

bool asNumber(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

}  // namespace

int compareSince(const std::string& a, const std::string& b) {
  if (isInteger(a) && isInteger(b)) {
    bool negA = a[0] == '-', negB = b[0] == '-';
    if (negA != negB) return negA ? -1 : 1;
    int magnitude = compareMagnitude(a.substr(negA ? 1 : 0), b.substr(negB ? 1 : 0));
    return negA ? -magnitude : magnitude;
  }
  double x = 0, y = 0;
  if (asNumber(a, x) && asNumber(b, y)) return x < y ? -1 : (x > y ? 1 : 0);
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

}  // namespace http_poll
