#include "heap_by_thread.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace heap {
namespace {

thread_local bool excluded = false;
std::atomic<std::size_t> liveBytes{0}, peakBytes{0};

// Before each block: its size and whether it is measured; 16 bytes keep the block aligned as
// malloc's is.
struct alignas(16) Header {
  std::size_t size;
  std::size_t measured;
};

void* allocate(std::size_t size) {
  auto* header = static_cast<Header*>(std::malloc(sizeof(Header) + size));
  if (!header) throw std::bad_alloc();
  header->size = size;
  header->measured = !excluded;
  if (header->measured) {
    std::size_t now = liveBytes.fetch_add(size) + size;
    std::size_t seen = peakBytes.load();
    while (now > seen && !peakBytes.compare_exchange_weak(seen, now)) {
    }
  }
  return header + 1;
}

void release(void* p) {
  if (!p) return;
  Header* header = static_cast<Header*>(p) - 1;
  if (header->measured) liveBytes.fetch_sub(header->size);
  std::free(header);
}

}  // namespace

void excludeThisThread() {
  excluded = true;
}
std::size_t live() {
  return liveBytes.load();
}
std::size_t peak() {
  return peakBytes.load();
}
void resetPeak() {
  peakBytes.store(liveBytes.load());
}

}  // namespace heap

void* operator new(std::size_t size) {
  return heap::allocate(size);
}
void* operator new[](std::size_t size) {
  return heap::allocate(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return heap::allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return heap::allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept {
  heap::release(p);
}
void operator delete[](void* p) noexcept {
  heap::release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  heap::release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  heap::release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  heap::release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  heap::release(p);
}
