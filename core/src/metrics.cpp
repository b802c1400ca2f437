#include "etl/metrics.h"

#include <cctype>
#include <cmath>
#include <sstream>

#include "metric_help.h"

namespace etl {
namespace {

std::string sanitized(const std::string& name) {
  std::string out;
  for (char c : name) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

std::string labelText(const Labels& labels, const std::string& extra = "") {
  std::string out;
  for (const auto& [key, value] : labels) {
    out += (out.empty() ? "" : ",") + sanitized(key) + "=\"";
    for (char c : value) {
      if (c == '\\' || c == '"') out.push_back('\\');
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out.push_back(c);
    }
    out += "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

// A # HELP line's text: backslashes and line breaks escaped (the exposition format's rules).
std::string helpText(const std::string& name) {
  std::string help = metricHelp(name);
  if (help.empty()) help = "etlrun metric " + name + " (no description).";
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

void Histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  counts_[i].fetch_add(1);
  sumMicros_.fetch_add(static_cast<int64_t>(std::llround(seconds * 1e6)));
}

std::vector<int64_t> Histogram::cumulative() const {
  std::vector<int64_t> out;
  int64_t total = 0;
  for (const auto& count : counts_) out.push_back(total += count.load());
  return out;
}

std::string labeledName(const std::string& name, const Labels& labels) {
  return name + labelText(labels);
}

Metrics::Entry& Metrics::entry(Kind kind, const std::string& name, const Labels& labels,
                               const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second;
  Entry e{kind, name, labels, nullptr, nullptr};
  if (kind == Kind::Histogram) {
    e.histogram = std::make_unique<Histogram>();
  } else {
    e.value = std::make_unique<std::atomic<int64_t>>(0);
  }
  return entries_.emplace(key, std::move(e)).first->second;
}

std::atomic<int64_t>& Metrics::counter(const std::string& name) {
  std::size_t dot = name.find('.');
  Labels labels;
  if (dot != std::string::npos) labels.emplace_back("pipeline", name.substr(0, dot));
  return *entry(Kind::Counter, dot == std::string::npos ? name : name.substr(dot + 1), labels, name)
              .value;
}

std::atomic<int64_t>& Metrics::counter(const std::string& name, const Labels& labels) {
  return *entry(Kind::Counter, name, labels, labeledName(name, labels)).value;
}

std::atomic<int64_t>& Metrics::gauge(const std::string& name, const Labels& labels) {
  return *entry(Kind::Gauge, name, labels, labeledName(name, labels)).value;
}

Histogram& Metrics::histogram(const std::string& name, const Labels& labels) {
  return *entry(Kind::Histogram, name, labels, labeledName(name, labels)).histogram;
}

std::map<std::string, int64_t> Metrics::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, int64_t> out;
  for (const auto& [key, e] : entries_) {
    if (e.value) out[key] = e.value->load();
  }
  return out;
}

std::map<std::string, int64_t> Metrics::snapshotOf(const std::string& pipeline) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, int64_t> out;
  for (const auto& [key, e] : entries_) {
    if (!e.value) continue;
    Labels others;
    bool mine = false;
    for (const auto& label : e.labels) {
      if (label.first == "pipeline") {
        mine = label.second == pipeline;
      } else {
        others.push_back(label);
      }
    }
    if (mine) out[e.name + labelText(others)] = e.value->load();
  }
  return out;
}

std::string Metrics::prometheus() const {
  // One family per name and kind, its samples together after one # HELP and one # TYPE line.
  std::map<std::string, std::vector<std::string>> families;
  std::map<std::string, std::string> types, helps;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [key, e] : entries_) {
      std::string family = "etlrun_" + sanitized(e.name);
      if (e.kind == Kind::Counter) family += "_total";
      if (e.kind == Kind::Histogram) family += "_seconds";
      if (!helps.count(family)) helps[family] = helpText(e.name);
      if (e.kind == Kind::Counter) {
        types[family] = "counter";
        families[family].push_back(family + labelText(e.labels) + " " +
                                   std::to_string(e.value->load()));
      } else if (e.kind == Kind::Gauge) {
        types[family] = "gauge";
        families[family].push_back(family + labelText(e.labels) + " " +
                                   std::to_string(e.value->load()));
      } else {
        types[family] = "histogram";
        auto counts = e.histogram->cumulative();
        auto& lines = families[family];
        for (std::size_t i = 0; i < counts.size(); ++i) {
          std::string le = i < Histogram::kBounds.size() ? number(Histogram::kBounds[i]) : "+Inf";
          lines.push_back(family + "_bucket" + labelText(e.labels, "le=\"" + le + "\"") + " " +
                          std::to_string(counts[i]));
        }
        lines.push_back(family + "_sum" + labelText(e.labels) + " " + number(e.histogram->sum()));
        lines.push_back(family + "_count" + labelText(e.labels) + " " +
                        std::to_string(counts.back()));
      }
    }
  }
  std::string out;
  for (const auto& [family, lines] : families) {
    out += "# HELP " + family + " " + helps[family] + "\n";
    out += "# TYPE " + family + " " + types[family] + "\n";
    for (const auto& line : lines) out += line + "\n";
  }
  return out;
}

}  // namespace etl
