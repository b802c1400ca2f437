// The state directory is checked when etlrun starts, before any plugin is created or source
// opened: found later, an unwritable one stopped the pipeline only after its first batch had gone
// out (to stdout, to Kafka) with no checkpoint to show for it.
#pragma once

#include <string>

namespace etl {

// Creates `dir` (and missing parents) and proves that this process can create files in it.
// Throws std::runtime_error naming the directory and why: "permission denied (etlrun runs as user
// 'x')", "/a/b is a file, not a directory", "read-only file system".
void checkStateDir(const std::string& dir);

}  // namespace etl
