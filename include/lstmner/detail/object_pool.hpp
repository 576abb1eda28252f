#pragma once
/// \file detail/object_pool.hpp
/// A thread-safe pool of reusable objects (the Tagger keeps its prediction scratch memory in one).

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace lstmner {
namespace detail {

/// Objects kept for reuse: acquire() hands out one (made when none is free) that returns to the
/// pool when the Lease ends. Thread-safe. Copies and moves of a pool start empty, so an object
/// is never shared between two owners.
template <class T>
class ObjectPool {
 public:
  class Lease {
   public:
    Lease(ObjectPool& pool, std::unique_ptr<T> object) : pool_(pool), object_(std::move(object)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give_back(std::move(object_)); }
    T& operator*() const { return *object_; }

   private:
    ObjectPool& pool_;
    std::unique_ptr<T> object_;
  };

  ObjectPool() = default;
  ObjectPool(const ObjectPool&) {}
  ObjectPool& operator=(const ObjectPool&) {
    clear();
    return *this;
  }

  Lease acquire() {
    std::unique_ptr<T> object;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        object = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!object) object = std::make_unique<T>();
    return Lease(*this, std::move(object));
  }

  /// Drops every free object (their memory goes back to the system).
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.clear();
  }

 private:
  void give_back(std::unique_ptr<T> object) noexcept {
    try {
      std::lock_guard<std::mutex> lock(mutex_);
      free_.push_back(std::move(object));
    } catch (...) {  // no room to keep it: let it go
    }
  }

  std::mutex mutex_;
  std::vector<std::unique_ptr<T>> free_;
};

}  // namespace detail
}  // namespace lstmner
