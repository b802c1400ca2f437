// The ids of the most recent events seen, bounded: GitHub's event ids are opaque strings that are
// not ordered (they even decreased over the years), so "new" means "not among the last N seen".
#pragma once

#include <deque>
#include <string>
#include <unordered_set>
#include <vector>

namespace github {

class RecentIds {
 public:
  explicit RecentIds(std::size_t capacity) : capacity_(capacity) {}
  bool contains(const std::string& id) const { return set_.count(id) != 0; }
  void add(const std::string& id) {
    if (!set_.insert(id).second) return;
    order_.push_back(id);
    while (order_.size() > capacity_) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }
  bool empty() const { return order_.empty(); }
  // Oldest first, as they were added.
  std::vector<std::string> list() const { return {order_.begin(), order_.end()}; }

 private:
  std::size_t capacity_;
  std::deque<std::string> order_;
  std::unordered_set<std::string> set_;
};

}  // namespace github
