// Files the core keeps in the state directory for sinks that cannot hold them: the last committed
// checkpoint of each pipeline and the dead letters.
#pragma once

#include <string>
#include <vector>

#include "etl/batch.h"

namespace etl {

// The lock that makes one process a pipeline's only runner in a state directory: flock on
// state_dir/<pipeline>.lock, released by the kernel when the process ends however it ends. The
// file says who holds it.
class OwnerLock {
 public:
  OwnerLock(const std::string& stateDir, const std::string& pipeline);
  ~OwnerLock();
  OwnerLock(const OwnerLock&) = delete;
  OwnerLock& operator=(const OwnerLock&) = delete;
  // "" once it is ours; otherwise who holds it ("pid 123 on host, since 2026-...").
  std::string take();

 private:
  std::string path_;
  int fd_ = -1;
  bool held_ = false;
};

class CheckpointFile {
 public:
  CheckpointFile(const std::string& stateDir, const std::string& pipeline);
  // "" when there is none yet; throws etl::CheckpointError when the file is there but empty.
  std::string load() const;
  const std::string& path() const { return path_; }
  void save(const std::string& checkpoint);

 private:
  std::string path_;
};

// Appends dead letters as JSON lines: {"plugin":..,"reason":..,"stream":..,"record":"<raw>"}, plus
// "record_base64" with the exact bytes when the record is not valid UTF-8 (or holds a NUL).
class DeadLetterFile {
 public:
  DeadLetterFile(const std::string& stateDir, const std::string& pipeline);
  void append(const std::vector<DeadLetter>& letters);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace etl
