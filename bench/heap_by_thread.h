// Live heap bytes of the threads under measurement, apart from the others in the same process: a
// bench that runs the code it measures beside the simulated world it runs against (the fake
// GitHub, its events) reads the peak of the first alone. Replaces the global operator new and
// delete of the program it is linked into; each allocation remembers whether it was made on a
// measured thread, so a free on any thread takes it off the right count.
#pragma once

#include <cstddef>

namespace heap {

// From now on, allocations on this thread are not measured (the world's threads).
void excludeThisThread();
// Live bytes of measured allocations now, and their peak since resetPeak().
std::size_t live();
std::size_t peak();
void resetPeak();

}  // namespace heap
