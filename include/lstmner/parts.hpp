#pragma once
/// \file parts.hpp
/// How a stage of work is cut for threads (execution_context.hpp runs the pieces):
///   Part   share `index` of `count` equal shares (of the elements of every parameter, say);
///   Range  items [first, last) (token columns, sentences, table rows, rows of a gradient).

#include <lstmner/tensor.hpp>

#include <cstddef>

namespace lstmner {

/// Part `index` of `count` equal shares of some work. The default is the whole: part 0 of 1.
struct Part {
  int index = 0;
  int count = 1;

  /// This part's share [first, last) of n items: contiguous, in part order, sizes differing by at
  /// most one.
  std::ptrdiff_t first(std::ptrdiff_t n) const { return n * index / count; }
  std::ptrdiff_t last(std::ptrdiff_t n) const { return n * (index + 1) / count; }
};

/// Items [first, last) of some work.
struct Range {
  Index first = 0;
  Index last = 0;

  Index size() const { return last - first; }
  /// The share of this range that `part` takes (parts of a range cover it in order).
  Range share(Part part) const { return {first + part.first(size()), first + part.last(size())}; }
};

}  // namespace lstmner
