// Files the core keeps in the state directory for sinks that cannot hold them: the last committed
// checkpoint of each pipeline and the dead letters.
#pragma once

#include <string>
#include <vector>

#include "etl/batch.h"

namespace etl {

// Writes `content` to `path` so that a crash leaves either the old or the new file: temp file,
// fsync, rename, fsync of the directory.
void writeFileAtomically(const std::string& path, const std::string& content);
std::string readFileOr(const std::string& path, const std::string& fallback);

class CheckpointFile {
 public:
  CheckpointFile(const std::string& stateDir, const std::string& pipeline);
  std::string load() const;
  void save(const std::string& checkpoint);

 private:
  std::string path_;
};

// Appends dead letters as JSON lines: {"plugin":..,"reason":..,"stream":..,"record":"<raw>"}.
class DeadLetterFile {
 public:
  DeadLetterFile(const std::string& stateDir, const std::string& pipeline);
  void append(const std::vector<DeadLetter>& letters);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace etl
