// The counting allocator shared by the tests that prove "no heap allocation" (test_lstm,
// test_allocation): it replaces the global operator new/delete, every form, with counting
// versions, and, where tests/CMakeLists.txt links with `--wrap=malloc,--wrap=calloc,--wrap=realloc`
// (it then defines LSTMNER_WRAP_MALLOC), std::malloc too, so Eigen's own heap blocks are counted.
// The counter is atomic: the BiLSTM's second thread allocates through the same functions.
#include "counting_allocator.hpp"

#include <atomic>
#if defined(__GLIBC__)
#include <execinfo.h>
#include <unistd.h>
#endif
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> g_allocations{0};
/// Debugging aid: with LSTMNER_TRACE_ALLOCATIONS set, every allocation inside a measured region
/// prints its call stack to stderr (glibc backtrace_symbols_fd, which does not allocate).
std::atomic<bool> g_trace{false};

void count_allocation() {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
#if defined(__GLIBC__)
  if (g_trace.exchange(false)) {  // off while printing: backtrace itself must not recurse
    void* frames[12];
    const int n = backtrace(frames, 12);
    backtrace_symbols_fd(frames, n, 2);
    write(2, "----\n", 5);
    g_trace = true;
  }
#endif
}

}  // namespace

namespace lstmner_test {

long start_measuring() {
#if defined(__GLIBC__)
  void* warm_up[1];
  backtrace(warm_up, 1);  // its first call loads libgcc, which allocates
#endif
  g_trace = std::getenv("LSTMNER_TRACE_ALLOCATIONS") != nullptr;
  return g_allocations.load();
}
long allocations_since(long start) {
  g_trace = false;
  return g_allocations.load() - start;
}

}  // namespace lstmner_test

namespace {

void* counted_malloc(std::size_t size) {
  count_allocation();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void* counted_aligned(std::size_t size, std::align_val_t align) {
  count_allocation();
  const auto alignment = static_cast<std::size_t>(align);
  const std::size_t rounded = (size + alignment - 1) / alignment * alignment;
  if (void* p = std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded)) return p;
  throw std::bad_alloc();
}
}  // namespace

#if defined(LSTMNER_WRAP_MALLOC)
extern "C" {
void* __real_malloc(std::size_t);
void* __real_calloc(std::size_t, std::size_t);
void* __real_realloc(void*, std::size_t);
void* __wrap_malloc(std::size_t size) {
  count_allocation();
  return __real_malloc(size);
}
void* __wrap_calloc(std::size_t n, std::size_t size) {
  count_allocation();
  return __real_calloc(n, size);
}
void* __wrap_realloc(void* p, std::size_t size) {
  count_allocation();
  return __real_realloc(p, size);
}
}
#endif

void* operator new(std::size_t size) {
  return counted_malloc(size);
}
void* operator new[](std::size_t size) {
  return counted_malloc(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_malloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return operator new(size, std::nothrow);
}
void* operator new(std::size_t size, std::align_val_t align) {
  return counted_aligned(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return counted_aligned(size, align);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  try {
    return counted_aligned(size, align);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return operator new(size, align, std::nothrow);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
