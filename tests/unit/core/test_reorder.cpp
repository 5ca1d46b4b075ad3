// reorder_classes (a dataset seen with its classes in a model's order, when both name the same
// classes in another order) and DatasetInfo::names_source (whether the names come from the data).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>

#include "camscope/data/dataset.hpp"
#include "camscope/util/error.hpp"

namespace fs = std::filesystem;
using namespace camscope;

namespace {
const std::string kDir = CAMSCOPE_FIXTURES_DIR;
}

TEST(ReorderClasses, LabelsNamesAndSuperclassesFollowThePermutation) {
    auto plain = open_dataset(kDir + "/tiny_cifar100");
    EXPECT_EQ(plain->info().names_source, kDir + "/tiny_cifar100/fine_label_names.txt");
    const size_t k = plain->num_classes();
    ASSERT_EQ(k, 100u);
    std::vector<int> to_new(k);
    std::vector<std::string> names(k);
    for (size_t c = 0; c < k; ++c) {
        to_new[c] = static_cast<int>((c * 37 + 11) % k);  // 37 is coprime with 100: a permutation
        names[to_new[c]] = plain->info().class_names[c];
    }
    auto re = reorder_classes(open_dataset(kDir + "/tiny_cifar100"), to_new, names);
    ASSERT_EQ(re->size(), plain->size());
    EXPECT_EQ(re->info().class_names, names);
    EXPECT_EQ(re->info().coarse_names, plain->info().coarse_names);
    for (size_t i = 0; i < 40; ++i) {
        const Sample a = plain->get(i), b = re->get(i);
        EXPECT_EQ(b.label, to_new[a.label]);
        EXPECT_EQ(re->info().class_names[b.label], plain->info().class_names[a.label]);
        EXPECT_EQ(b.coarse, a.coarse);
        EXPECT_EQ(re->info().fine_to_coarse[b.label], b.coarse);  // the superclass map moved along
        EXPECT_EQ(b.image.pixels, a.image.pixels);
    }
    std::vector<int> twice(k, 0);  // not a permutation
    EXPECT_THROW(reorder_classes(open_dataset(kDir + "/tiny_cifar100"), twice, names), Error);
}

TEST(ReorderClasses, NamesSourceSaysWhetherTheDataNamesItsClasses) {
    EXPECT_EQ(open_dataset(kDir + "/tiny_cifar10")->info().names_source, kDir + "/tiny_cifar10/batches.meta.txt");
    EXPECT_EQ(open_dataset(kDir + "/tiny_cifar10_folder")->info().names_source,
              "the class folders of " + kDir + "/tiny_cifar10_folder");
    // A CIFAR-10 batch without batches.meta.txt: generic names that say nothing.
    const fs::path d = fs::temp_directory_path() / "camscope_reorder_generic";
    fs::remove_all(d);
    fs::create_directories(d);
    fs::copy_file(kDir + "/tiny_cifar10/test_batch.bin", d / "test_batch.bin");
    auto ds = open_dataset(d.string());
    EXPECT_EQ(ds->info().class_names[3], "class_3");
    EXPECT_EQ(ds->info().names_source, "");
    fs::remove_all(d);
}
