// CIFAR-10 / CIFAR-100 "binary version" readers (https://www.cs.toronto.edu/~kriz/cifar.html).
// CIFAR-10 record:  1 label byte, then 3072 pixel bytes.
// CIFAR-100 record: 1 coarse label byte, 1 fine label byte, then 3072 pixel bytes.
// Pixels: the 1024-byte red plane, then green, then blue; each 32×32 row-major.
// Records are read on demand with pread: memory does not grow with the dataset.
#include <algorithm>
#include <array>

#include "camscope/data/formats.hpp"
#include "camscope/util/error.hpp"

namespace camscope::detail {
namespace fs = std::filesystem;

const char* const kCifar10LookedFor =
    "test_batch.bin or data_batch_1..5.bin (in the folder or its cifar-10-batches-bin/), or a CIFAR-10 .bin file";
const char* const kCifar100LookedFor =
    "train.bin or test.bin (in the folder or its cifar-100-binary/), or a CIFAR-100 .bin file";

namespace {

constexpr int kSide = 32;
constexpr std::size_t kPlane = kSide * kSide;
constexpr std::size_t kPixels = 3 * kPlane;

// Standard CIFAR-100 superclass of each fine label 0..99 (fine labels in alphabetical order).
constexpr std::array<int, 100> kFineToCoarse = {
    4,  1,  14, 8,  0,  6,  7,  7,  18, 3,  3,  14, 9,  18, 7,  11, 3,  9,  7,  11, 6,  11, 5,  10, 7,
    6,  13, 15, 3,  15, 0,  11, 1,  10, 12, 14, 16, 9,  11, 5,  5,  19, 8,  8,  15, 13, 14, 17, 18, 10,
    16, 4,  17, 4,  2,  0,  17, 4,  18, 17, 10, 3,  2,  12, 12, 16, 12, 1,  9,  19, 2,  10, 0,  1,  16,
    12, 9,  13, 15, 13, 16, 19, 2,  4,  6,  19, 5,  5,  8,  19, 18, 1,  2,  15, 6,  0,  17, 8,  14, 13};

const std::vector<std::string>& standard_coarse_names() {
    static const std::vector<std::string> names = {
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
        "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
        "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
        "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
        "vehicles_1", "vehicles_2"};
    return names;
}

struct Layout {
    bool hundred;
    std::size_t record;   // bytes per record
    std::size_t classes;  // fine classes
};
constexpr Layout kCifar10{false, 1 + kPixels, 10};
constexpr Layout kCifar100{true, 2 + kPixels, 100};

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}
bool is_dir(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

bool dir_has_cifar10(const fs::path& d) { return is_file(d / "test_batch.bin") || is_file(d / "data_batch_1.bin"); }
bool dir_has_cifar100(const fs::path& d) { return is_file(d / "train.bin") || is_file(d / "test.bin"); }

/// The folder holding the batch files: `path` itself or its usual extracted sub-folder.
std::optional<fs::path> find_dir(const fs::path& path, bool hundred) {
    if (!is_dir(path)) return std::nullopt;
    const fs::path candidates[] = {path, path / (hundred ? "cifar-100-binary" : "cifar-10-batches-bin")};
    for (const auto& d : candidates)
        if (is_dir(d) && (hundred ? dir_has_cifar100(d) : dir_has_cifar10(d))) return d;
    return std::nullopt;
}

/// A single .bin file of this layout? Decided by the official file names, else by the size.
bool file_matches(const fs::path& p, const Layout& l) {
    if (!is_file(p) || lower(p.extension().string()) != ".bin") return false;
    const std::string name = p.filename().string();
    if (name == "test_batch.bin" || name.rfind("data_batch_", 0) == 0) return !l.hundred;
    if (name == "train.bin" || name == "test.bin") return l.hundred;
    std::error_code ec;
    auto size = fs::file_size(p, ec);
    return !ec && size > 0 && size % l.record == 0;
}

class CifarDataset final : public Dataset {
public:
    CifarDataset(const Layout& layout, const std::vector<fs::path>& files, DatasetInfo info)
        : layout_(layout), info_(std::move(info)) {
        for (const auto& f : files) {
            auto file = std::make_unique<ReadOnlyFile>(f.string());
            if (file->size() == 0)
                throw Error(where(file->path(), "empty file (0 bytes), expected " + std::to_string(layout_.record) +
                                                    "-byte " + (layout_.hundred ? "CIFAR-100" : "CIFAR-10") +
                                                    " records"));
            const std::uint64_t n = file->size() / layout_.record, rest = file->size() % layout_.record;
            if (rest != 0)
                throw Error(where(file->path(), "size " + std::to_string(file->size()) + " is not a multiple of the " +
                                                    std::to_string(layout_.record) + "-byte record: " +
                                                    std::to_string(n) + " whole records and " + std::to_string(rest) +
                                                    " trailing bytes (truncated or not a " +
                                                    (layout_.hundred ? "CIFAR-100" : "CIFAR-10") + " file?)"));
            starts_.push_back(size_);
            size_ += n;
            files_.push_back(std::move(file));
        }
    }

    std::size_t size() const override { return size_; }
    const DatasetInfo& info() const override { return info_; }

    Sample get(std::size_t i) const override {
        if (i >= size_)
            throw Error("CIFAR sample index " + std::to_string(i) + " out of range (dataset has " +
                        std::to_string(size_) + " records)");
        const std::size_t part = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), i) -
                                                          starts_.begin()) - 1;
        const ReadOnlyFile& file = *files_[part];
        const std::uint64_t record = i - starts_[part];
        const std::uint64_t offset = record * layout_.record;
        std::array<std::uint8_t, 2 + kPixels> buf{};
        file.read_at(offset, layout_.record, buf.data());

        Sample s;
        const std::uint8_t* px = buf.data() + (layout_.hundred ? 2 : 1);
        if (layout_.hundred) {
            s.coarse = check_label(buf[0], 20, file, record, offset, "coarse label");
            s.label = check_label(buf[1], 100, file, record, offset + 1, "fine label");
        } else {
            s.label = check_label(buf[0], 10, file, record, offset, "label");
        }
        s.image.width = kSide;
        s.image.height = kSide;
        s.image.channels = 3;
        s.image.pixels.resize(kPixels);
        // Planar R,G,B -> interleaved RGB.
        for (std::size_t p = 0; p < kPlane; ++p)
            for (std::size_t c = 0; c < 3; ++c) s.image.pixels[3 * p + c] = px[c * kPlane + p];
        return s;
    }

private:
    static int check_label(std::uint8_t v, int limit, const ReadOnlyFile& f, std::uint64_t record,
                           std::uint64_t offset, const char* what) {
        if (v >= limit)
            throw Error(where(f.path(), static_cast<long long>(record), static_cast<long long>(offset),
                              std::string(what) + " " + std::to_string(v) + " out of range, expected 0.." +
                                  std::to_string(limit - 1)));
        return v;
    }

    Layout layout_;
    DatasetInfo info_;
    std::vector<std::unique_ptr<ReadOnlyFile>> files_;
    std::vector<std::size_t> starts_;  // index of each file's first record
    std::size_t size_ = 0;
};

std::vector<std::string> names_or_generic(const fs::path& file, std::size_t n) {
    auto names = read_name_lines(file);
    if (names.empty()) return generic_names(n);
    if (names.size() != n)
        throw Error(where(file.string(), "expected " + std::to_string(n) + " class names, found " +
                                             std::to_string(names.size())));
    return names;
}

std::unique_ptr<Dataset> open_cifar(const std::string& path, const std::string& split, const Layout& l) {
    const char* fmt = l.hundred ? "cifar100" : "cifar10";
    std::vector<fs::path> files;
    fs::path dir;
    if (is_file(path)) {
        // A single batch file: it is the whole dataset, whatever the split.
        files.push_back(path);
        dir = fs::path(path).parent_path();
    } else if (auto d = find_dir(path, l.hundred)) {
        dir = *d;
        if (l.hundred) {
            files.push_back(dir / (split + ".bin"));
        } else if (split == "test") {
            files.push_back(dir / "test_batch.bin");
        } else {
            // The official set has data_batch_1..5; a subset (1..k, no gaps) is accepted as well.
            for (int b = 1; b <= 5; ++b) {
                auto f = dir / ("data_batch_" + std::to_string(b) + ".bin");
                if (b > 1 && !is_file(f)) {
                    for (int later = b + 1; later <= 5; ++later)
                        if (is_file(dir / ("data_batch_" + std::to_string(later) + ".bin")))
                            throw Error(where(f.string(), "missing cifar10 train batch (later batches exist)"));
                    break;
                }
                files.push_back(f);
            }
        }
        for (const auto& f : files)
            if (!is_file(f)) throw Error(where(f.string(), std::string("missing ") + fmt + " " + split + " split file"));
    } else {
        throw Error(where(path, std::string("not a ") + fmt + " dataset; looked for " +
                                    (l.hundred ? kCifar100LookedFor : kCifar10LookedFor)));
    }

    DatasetInfo info;
    info.format = fmt;
    info.name = fmt;
    info.split = split;
    const fs::path names_file = dir / (l.hundred ? "fine_label_names.txt" : "batches.meta.txt");
    if (l.hundred) {
        info.class_names = names_or_generic(names_file, 100);
        auto coarse = read_name_lines(dir / "coarse_label_names.txt");
        if (!coarse.empty() && coarse.size() != 20)
            throw Error(where((dir / "coarse_label_names.txt").string(),
                              "expected 20 superclass names, found " + std::to_string(coarse.size())));
        info.coarse_names = coarse.empty() ? standard_coarse_names() : coarse;
        info.fine_to_coarse.assign(kFineToCoarse.begin(), kFineToCoarse.end());
    } else {
        info.class_names = names_or_generic(names_file, 10);
    }
    if (info.class_names != generic_names(info.class_names.size())) info.names_source = names_file.string();
    info.preset.channels = 3;
    info.preset.height = kSide;
    info.preset.width = kSide;
    info.preset.norm = *normalization_preset(fmt);
    info.preset.norm_source = dataset_preset_source(fmt, l.hundred ? "the CIFAR-100 binary format" : "the CIFAR-10 binary format");
    return std::make_unique<CifarDataset>(l, files, std::move(info));
}

}  // namespace

bool detect_cifar10(const std::string& path) { return find_dir(path, false) || file_matches(path, kCifar10); }
bool detect_cifar100(const std::string& path) { return find_dir(path, true) || file_matches(path, kCifar100); }

std::unique_ptr<Dataset> open_cifar10(const std::string& path, const std::string& split) {
    return open_cifar(path, split, kCifar10);
}
std::unique_ptr<Dataset> open_cifar100(const std::string& path, const std::string& split) {
    return open_cifar(path, split, kCifar100);
}

}  // namespace camscope::detail
