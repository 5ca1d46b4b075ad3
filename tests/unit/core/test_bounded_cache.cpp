// util/bounded_cache.hpp: the byte cap, the first-in-first-out eviction, the first value kept.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "camscope/util/bounded_cache.hpp"

namespace {

using camscope::BoundedCache;

struct Length {
    size_t operator()(const std::string& s) const { return s.size(); }
};
using Cache = BoundedCache<int, std::string, Length>;

std::vector<int> kept(const Cache& c, int upto) {
    std::vector<int> out;
    for (int k = 0; k < upto; ++k)
        if (c.contains(k)) out.push_back(k);
    return out;
}

}  // namespace

TEST(BoundedCache, FindsWhatWasInsertedAndNothingElse) {
    Cache c(100);
    EXPECT_FALSE(c.find(1).has_value());
    EXPECT_TRUE(c.insert(1, "abc"));
    ASSERT_TRUE(c.find(1).has_value());
    EXPECT_EQ(*c.find(1), "abc");
    EXPECT_FALSE(c.find(2).has_value());
    EXPECT_EQ(c.size(), 1u);
    EXPECT_EQ(c.bytes(), 3u);
}

TEST(BoundedCache, TheFirstValueOfAKeyStays) {
    Cache c(100);
    EXPECT_TRUE(c.insert(7, "first"));
    EXPECT_FALSE(c.insert(7, "second, longer"));
    EXPECT_EQ(*c.find(7), "first");
    EXPECT_EQ(c.bytes(), 5u);
}

TEST(BoundedCache, DropsTheOldestInsertedUntilTheNewOneFits) {
    Cache c(10);
    c.insert(0, "aaaa");  // 4
    c.insert(1, "bbb");   // 7
    c.insert(2, "cc");    // 9
    EXPECT_EQ(kept(c, 5), (std::vector<int>{0, 1, 2}));
    (void)c.find(0);      // a lookup does not renew an entry (first in, first out)
    c.insert(3, "dddd");  // 13 > 10: 0 goes (9), then 9 fits
    EXPECT_EQ(kept(c, 5), (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(c.bytes(), 9u);
    c.insert(4, "eeeeeeeeee");  // exactly the cap: everything else goes
    EXPECT_EQ(kept(c, 5), (std::vector<int>{4}));
    EXPECT_EQ(c.bytes(), 10u);
}

TEST(BoundedCache, AnEntryLargerThanTheCapIsNotKeptAndDropsNothing) {
    Cache c(10);
    c.insert(0, "aaaa");
    EXPECT_FALSE(c.insert(1, std::string(11, 'x')));
    EXPECT_EQ(kept(c, 2), (std::vector<int>{0}));
    EXPECT_EQ(c.bytes(), 4u);
}

TEST(BoundedCache, StaysWithinItsCapUnderConcurrentInserts) {
    Cache c(1000);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&c, t] {
            for (int i = 0; i < 500; ++i) {
                c.insert(t * 1000 + i, std::string(static_cast<size_t>(1 + (i * 7 + t) % 50), 'v'));
                (void)c.find(t * 1000 + i / 2);
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_LE(c.bytes(), 1000u);
    size_t sum = 0;
    for (int t = 0; t < 4; ++t)
        for (int i = 0; i < 500; ++i)
            if (auto v = c.find(t * 1000 + i)) sum += v->size();
    EXPECT_EQ(sum, c.bytes());  // the count of bytes is the sum of what is kept
}
