// A PushEvent turned into a push_events row (as a small JSON document), for every payload shape
// GitHub has used: 2012 {push_id, size, ref, head, commits} (no before, no distinct_size);
// 2013 to ~2023 {push_id, size, distinct_size, ref, head, before, commits};
// ~2023 to Sept 2025 the same plus repository_id; since 2025-10-07 only {repository_id, push_id,
// ref, head, before}.
#pragma once

#include <string>

#include "etl/record.h"

namespace push_events {

// Throws etl::FieldError naming the first required field that is missing or mistyped.
std::string rowFromEvent(const etl::Record& event);

}  // namespace push_events
