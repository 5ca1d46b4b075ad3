// data/class_ref: the one parser of `pred | true | <index> | <class name>` behind `camscope cam -t`,
// the server's target/contrast/class parameters and Python's targets=.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "camscope/data/class_ref.hpp"

using namespace camscope;

namespace {

const std::vector<std::string> kCifar{"airplane", "automobile", "bird", "cat", "deer",
                                      "dog",      "frog",       "horse", "ship", "truck"};

/// The message of the UsageError `f` throws ("<no error>" otherwise), and whether it was a ClassRangeError.
template <typename F>
std::pair<std::string, bool> error_of(F&& f) {
    try {
        f();
    } catch (const ClassRangeError& e) {
        return {e.what(), true};
    } catch (const UsageError& e) {
        return {e.what(), false};
    }
    return {"<no error>", false};
}

bool mentions(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(ClassRef, KeywordsIndicesAndNames) {
    const ClassList c(kCifar);
    EXPECT_EQ(parse_class_ref("pred", c).kind, ClassRef::Pred);
    EXPECT_EQ(parse_class_ref("true", c).kind, ClassRef::True);
    const ClassRef three = parse_class_ref("3", c);
    EXPECT_EQ(three.kind, ClassRef::Index);
    EXPECT_EQ(three.index, 3);
    EXPECT_EQ(parse_class_ref("0", c).index, 0);
    EXPECT_EQ(parse_class_ref("009", c).index, 9);  // leading zeros: still the number 9
    EXPECT_EQ(parse_class_ref("truck", c).index, 9);
    EXPECT_EQ(parse_class_ref("TrUcK", c).index, 9);  // ignoring case when one name matches so
    EXPECT_EQ(parse_class("horse", c), 7);
    EXPECT_EQ(parse_class("7", c), 7);
}

TEST(ClassRef, IndexRangeHoweverManyDigits) {
    const ClassList c(kCifar);
    // 10 is past the classes; 4294967299 would wrap to 3 as a 32-bit int; 99999999999 made the CLI's
    // std::stoi throw std::out_of_range (exit 1); 30 digits overflow 64 bits.
    for (const std::string v : {"10", "4294967299", "99999999999", "999999999999999999999999999999"}) {
        const auto [msg, range] = error_of([&] { parse_class_ref(v, c, "-t/--target: "); });
        EXPECT_TRUE(range) << v << ": " << msg;
        EXPECT_EQ(msg, "-t/--target: class '" + v +
                           "' out of range: the model has 10 classes (expected pred, true, a class index 0 to 9 or a "
                           "class name)");
    }
    // A negative number is out of range too, but not a well-formed index (the server: 400, not 404).
    const auto [neg, neg_range] = error_of([&] { parse_class("-3", c); });
    EXPECT_FALSE(neg_range);
    EXPECT_EQ(neg, "class '-3' out of range: the model has 10 classes (expected a class index 0 to 9 or a class name)");
    // Signs, spaces, hex, decimals are not numbers: unknown names.
    for (const std::string v : {"+3", " 3", "3 ", "0x3", "3.0", "3abc"}) {
        const auto [msg, range] = error_of([&] { parse_class(v, c); });
        EXPECT_FALSE(range) << v;
        EXPECT_TRUE(mentions(msg, "unknown class '" + v + "'")) << msg;
    }
}

TEST(ClassRef, CountWithoutNames) {
    // A model without class names: indices against its output count, names refused with the reason.
    const std::vector<std::string> none;
    EXPECT_EQ(parse_class("4", ClassList(none, 5)), 4);
    const auto [msg, range] = error_of([&] { parse_class("5", ClassList(none, 5)); });
    EXPECT_TRUE(range);
    EXPECT_EQ(msg, "class '5' out of range: the model has 5 classes (expected a class index 0 to 4)");
    EXPECT_EQ(error_of([&] { parse_class("cat", ClassList(none, 5)); }).first,
              "unknown class 'cat': the model's classes have no names (expected a class index 0 to 4)");
    EXPECT_TRUE(error_of([&] { parse_class("0", ClassList(none, 0)); }).second);
}

TEST(ClassRef, ExactNameFirstThenUniqueIgnoringCase) {
    const std::vector<std::string> names{"Cat", "cat", "Dog", "T-shirt/top"};
    const ClassList c(names);
    EXPECT_EQ(parse_class("cat", c), 1);  // exact beats ignoring case
    EXPECT_EQ(parse_class("Cat", c), 0);
    EXPECT_EQ(parse_class("dog", c), 2);
    EXPECT_EQ(parse_class("t-SHIRT/top", c), 3);
    const auto [msg, range] = error_of([&] { parse_class("CAT", c); });
    EXPECT_FALSE(range);
    EXPECT_EQ(msg, "class 'CAT' is ambiguous: it matches 'Cat' and 'cat' ignoring case; write the name exactly");
    EXPECT_EQ(find_class_name("CAT", names), -1);
    EXPECT_EQ(find_class_name("cat", names), 1);
    EXPECT_EQ(find_class_name("DOG", names), 2);
    EXPECT_EQ(find_class_name("3", names), -1);  // names only: no index reading
}

TEST(ClassRef, UnknownNamesListCloseNames) {
    const ClassList c(kCifar);
    auto [msg, range] = error_of([&] { parse_class_ref("kat", c, "parameter 'target': "); });
    EXPECT_FALSE(range);
    EXPECT_EQ(msg, "parameter 'target': unknown class 'kat' (did you mean 'cat'?); expected pred, true, a class index 0 "
                   "to 9 or a class name");
    // "auto" is held by "automobile"; "shp" is one edit from "ship".
    EXPECT_TRUE(mentions(error_of([&] { parse_class("auto", c); }).first, "did you mean 'automobile'?"));
    EXPECT_TRUE(mentions(error_of([&] { parse_class("shp", c); }).first, "did you mean 'ship'?"));
    // Nothing close among at most 10 classes: all of them.
    EXPECT_TRUE(mentions(error_of([&] { parse_class("zebra", c); }).first,
                         "unknown class 'zebra' (the classes: airplane, automobile, bird, cat, deer, dog, frog, horse, "
                         "ship, truck); expected a class index 0 to 9 or a class name"));
    // pred/true where a class is needed; pred/true are exact words ("Pred" is a name, unknown here).
    EXPECT_EQ(error_of([&] { parse_class("pred", c, "--contrast: "); }).first,
              "--contrast: 'pred' names no class here (expected a class index 0 to 9 or a class name)");
    EXPECT_TRUE(mentions(error_of([&] { parse_class_ref("Pred", c); }).first, "unknown class 'Pred'"));
    // A huge value is quoted shortened (a query may be megabytes) and not compared name by name.
    const std::string big(100000, 'x');
    const std::string m = error_of([&] { parse_class(big, c); }).first;
    EXPECT_LT(m.size(), 400u) << m;
    EXPECT_TRUE(mentions(m, "(100000 bytes)")) << m;
    const std::string digits(100000, '9');
    EXPECT_TRUE(error_of([&] { parse_class(digits, c); }).second);
}
