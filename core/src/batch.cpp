// settleOrigins: the records made from one input are stored together or not at all.
#include "etl/batch.h"

#include <algorithm>
#include <map>
#include <set>

namespace etl {

std::size_t settleOrigins(Batch& batch) {
  // The inputs some of whose records were rejected, and where their merged letter goes.
  std::map<const Record*, std::size_t> failed;
  std::vector<DeadLetter> letters;
  letters.reserve(batch.deadLetters.size());
  for (auto& letter : batch.deadLetters) {
    const auto& origin = letter.record.origin();
    if (!origin) {
      letters.push_back(std::move(letter));
      continue;
    }
    auto [it, added] = failed.emplace(origin.get(), letters.size());
    if (added) {
      letters.push_back({*origin, std::move(letter.plugin), std::move(letter.reason)});
      continue;
    }
    DeadLetter& merged = letters[it->second];
    merged.reason += "; " + letter.reason;
    if (merged.plugin.find(letter.plugin) == std::string::npos && !letter.plugin.empty()) {
      merged.plugin += merged.plugin.empty() ? letter.plugin : ", " + letter.plugin;
    }
  }
  batch.deadLetters = std::move(letters);
  if (failed.empty()) return 0;
  std::size_t before = batch.records.size();
  batch.records.erase(
      std::remove_if(batch.records.begin(), batch.records.end(),
                     [&](const Record& r) { return r.origin() && failed.count(r.origin().get()); }),
      batch.records.end());
  return before - batch.records.size();
}

}  // namespace etl
