#pragma once
// A thread-safe key -> value cache capped in bytes: entries are dropped oldest-inserted first
// (FIFO, not LRU: a lookup does not renew an entry) until a new one fits. Knows nothing of the
// domain; `camscope serve` keeps its rendered live CAMs and its thumbnail sheets in two of them.
//
//   BoundedCache<std::string, Response, BodyBytes> cache(64u << 20);
//   if (auto hit = cache.find(key)) return *hit;
//   cache.insert(key, answer);   // kept unless the key is there already
//
// `SizeOf` is a functor, size_t(const Value&): the bytes an entry counts for (what the cap bounds;
// the keys and the bookkeeping are not counted). An entry larger than the whole cap is not kept
// (and nothing is dropped for it).
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace camscope {

template <class Key, class Value, class SizeOf>
class BoundedCache {
public:
    explicit BoundedCache(std::size_t max_bytes, SizeOf size_of = {}) : max_bytes_(max_bytes), size_of_(std::move(size_of)) {}

    BoundedCache(const BoundedCache&) = delete;
    BoundedCache& operator=(const BoundedCache&) = delete;

    /// A copy of the value kept for `key`, or nothing.
    std::optional<Value> find(const Key& key) const {
        std::lock_guard lock(mu_);
        const auto it = entries_.find(key);
        if (it == entries_.end()) return std::nullopt;
        return it->second.value;
    }

    bool contains(const Key& key) const {
        std::lock_guard lock(mu_);
        return entries_.count(key) != 0;
    }

    /// Keeps `value` for `key` unless the key is there already (the first value stays) or the value
    /// alone is larger than the cap; drops the oldest entries until it fits. Returns whether it was kept.
    bool insert(const Key& key, Value value) {
        const std::size_t size = size_of_(value);
        std::lock_guard lock(mu_);
        if (size > max_bytes_ || entries_.count(key)) return false;
        while (bytes_ + size > max_bytes_ && !order_.empty()) {
            const auto it = entries_.find(order_.front());
            bytes_ -= it->second.size;
            entries_.erase(it);
            order_.pop_front();
        }
        entries_.emplace(key, Entry{std::move(value), size});
        order_.push_back(key);
        bytes_ += size;
        return true;
    }

    std::size_t size() const {
        std::lock_guard lock(mu_);
        return entries_.size();
    }
    /// The bytes the entries count for (at most max_bytes()).
    std::size_t bytes() const {
        std::lock_guard lock(mu_);
        return bytes_;
    }
    std::size_t max_bytes() const { return max_bytes_; }

private:
    struct Entry {
        Value value;
        std::size_t size;
    };
    const std::size_t max_bytes_;
    SizeOf size_of_;
    mutable std::mutex mu_;
    std::map<Key, Entry, std::less<>> entries_;
    std::deque<Key> order_;  // insertion order: the front is dropped first
    std::size_t bytes_ = 0;
};

}  // namespace camscope
