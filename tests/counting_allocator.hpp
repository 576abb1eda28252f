#pragma once
// The counting allocator of tests/counting_allocator.cpp: a test executable that links that file
// has every heap allocation of the process counted.

namespace lstmner_test {

/// Starts a measured region and returns the count so far. With LSTMNER_TRACE_ALLOCATIONS set in
/// the environment, every allocation inside the region prints its call stack to stderr.
long start_measuring();

/// Allocations since `start` (a value returned by start_measuring); ends the region's tracing.
long allocations_since(long start);

}  // namespace lstmner_test
