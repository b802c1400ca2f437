// etl/files.h: durable file writes, for plugins that keep their own state in files.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace etl {

// Writes all of `data` to the open descriptor `fd` (retrying short writes and EINTR). `path` names
// the file in errors. A full or failing disk throws etl::RetryableError; other errors are
// permanent.
void writeAll(int fd, std::string_view data, const std::string& path);

// Replaces `path` with `content` so that a crash at any moment leaves either the old or the new
// file, never a mix or an empty one: temp file beside it, write, fsync, rename, fsync of the
// directory. `durable` false skips the fsyncs (the rename is still atomic): survives a process
// crash, not a power loss.
void writeFileAtomically(const std::string& path, std::string_view content, bool durable = true);

// The file's whole content; nullopt when it does not exist. Throws when it exists but cannot be
// read.
std::optional<std::string> readFileIfExists(const std::string& path);

// The user this process runs as ("etl", or "uid 1001" without a name), for messages that say why
// a file cannot be written.
std::string processUser();

}  // namespace etl
