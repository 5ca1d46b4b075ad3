// Image-folder datasets: ROOT/<class>/<image>.{png,jpg,jpeg} (torchvision ImageFolder layout),
// optionally under ROOT/train and ROOT/test. Opening lists files only; images are decoded in get().
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "camscope/data/formats.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/sha256.hpp"

namespace camscope::detail {
namespace fs = std::filesystem;

const char* const kFolderLookedFor =
    "class sub-folders holding .png/.jpg/.jpeg files (optionally under train/ and test/)";

namespace {

bool is_dir(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

bool has_image_extension(const fs::path& p) {
    const std::string ext = lower(p.extension().string());
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

/// Largest file read as one image: 64 Mpixel (decode_image's limit) of RGB stored without any
/// compression is 192 MiB; more than twice that is not an image we would decode. Checked with
/// stat() before the file is read: a 3 GiB sparse file named .png was otherwise read whole first.
constexpr std::uintmax_t kMaxImageFileBytes = 512ull << 20;

void check_image_file_size(const std::string& path) {
    std::error_code ec;
    const std::uintmax_t size = fs::file_size(path, ec);
    if (ec) return;  // the read that follows reports the problem, naming the file
    if (size > kMaxImageFileBytes)
        throw Error(where(path, "file is " + std::to_string(size) + " bytes, more than the " +
                                    std::to_string(kMaxImageFileBytes) + " an image may have"));
}

std::vector<fs::path> sorted_entries(const fs::path& dir, bool dirs) {
    std::vector<fs::path> out;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) throw Error(where(dir.string(), "cannot list folder: " + ec.message()));
    for (const auto& e : it) {
        if (hidden(e.path())) continue;
        std::error_code ec2;
        if (dirs ? e.is_directory(ec2) : (e.is_regular_file(ec2) && has_image_extension(e.path())))
            out.push_back(e.path());
    }
    std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
        return a.filename().string() < b.filename().string();
    });
    return out;
}

/// The folder holding the class folders for `split`.
fs::path split_root(const fs::path& root, const std::string& split) {
    if (is_dir(root / split)) return root / split;
    if (is_dir(root / "train") || is_dir(root / "test"))
        throw Error(where(root.string(), "has train/ or test/ sub-folders but no '" + split + "/'"));
    return root;
}

class FolderDataset final : public Dataset {
public:
    FolderDataset(std::vector<std::pair<std::string, int>> items, DatasetInfo info, fs::path root)
        : items_(std::move(items)), info_(std::move(info)), root_(std::move(root)) {}

    std::size_t size() const override { return items_.size(); }
    const DatasetInfo& info() const override { return info_; }

    Sample get(std::size_t i) const override {
        if (i >= items_.size())
            throw Error("folder sample index " + std::to_string(i) + " out of range (dataset has " +
                        std::to_string(items_.size()) + " images)");
        Sample s;
        s.label = items_[i].second;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (auto it = reduced_.find(i); it != reduced_.end()) {
                s.image = it->second;
                return s;
            }
        }
        check_image_file_size(items_[i].first);
        bool reduced = false;
        s.image = read_image_file(items_[i].first, cover_w_, cover_h_, &reduced);
        if (reduced) {  // a large photo: the report and the explorer will want it again
            std::lock_guard<std::mutex> lock(mu_);
            if (kept_bytes_ + s.image.pixels.size() <= kKeepBytes && reduced_.emplace(i, s.image).second)
                kept_bytes_ += s.image.pixels.size();
        }
        return s;
    }

    /// A file's path under the split's folder, size and class: names and sizes, not pixels (a
    /// folder of photos would have to be decoded whole; stat() of 100,000 files takes a fraction
    /// of a second).
    void fingerprint_item(Sha256& h, std::size_t i) const override {
        const auto& [file, cls] = items_.at(i);
        const std::string rel = fs::path(file).lexically_relative(root_).generic_string();
        h.update_u64(rel.size());
        h.update(rel);
        struct stat st {};
        h.update_u64(::stat(file.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : ~std::uint64_t{0});
        h.update_u64(static_cast<std::uint64_t>(cls));
    }

    void set_input_size(int height, int width) override {
        cover_h_ = height;
        cover_w_ = width;
        reduced_.clear();
        kept_bytes_ = 0;
    }

private:
    std::vector<std::pair<std::string, int>> items_;  // file, class index
    DatasetInfo info_;
    fs::path root_;  // the folder holding the class folders
    int cover_h_ = 0, cover_w_ = 0;  // images decoded reduced to cover this size (0: full size)
    // Images that were decoded reduced (each of them a large file that took a full decode), kept up
    // to kKeepBytes: 128 MB hold 40,000 reduced images for a 28×28 model, 600 for a 224×224 one.
    static constexpr std::size_t kKeepBytes = 128u << 20;
    mutable std::mutex mu_;
    mutable std::unordered_map<std::size_t, Image> reduced_;
    mutable std::size_t kept_bytes_ = 0;
};

}  // namespace

bool detect_folder(const std::string& path) {
    if (!is_dir(path)) return false;
    try {
        const fs::path root = is_dir(fs::path(path) / "test") ? fs::path(path) / "test"
                              : is_dir(fs::path(path) / "train") ? fs::path(path) / "train"
                                                                : fs::path(path);
        for (const auto& cls : sorted_entries(root, true))
            if (!sorted_entries(cls, false).empty()) return true;
    } catch (const Error&) {
        return false;
    }
    return false;
}

std::unique_ptr<Dataset> open_folder(const std::string& path, const std::string& split) {
    if (!is_dir(path)) throw Error(where(path, "not a folder; expected " + std::string(kFolderLookedFor)));
    const fs::path root = split_root(path, split);
    const auto classes = sorted_entries(root, true);
    if (classes.empty()) throw Error(where(root.string(), "no class sub-folders; expected " + std::string(kFolderLookedFor)));

    DatasetInfo info;
    info.format = "folder";
    fs::path norm = fs::absolute(path).lexically_normal();
    if (norm.filename().empty()) norm = norm.parent_path();
    info.name = norm.filename().string();
    info.split = split;
    std::vector<std::pair<std::string, int>> items;
    info.names_source = "the class folders of " + root.string();
    for (std::size_t c = 0; c < classes.size(); ++c) {
        info.class_names.push_back(classes[c].filename().string());
        for (const auto& f : sorted_entries(classes[c], false)) items.emplace_back(f.string(), static_cast<int>(c));
    }
    if (items.empty())
        throw Error(where(root.string(), "no .png/.jpg/.jpeg files in its " + std::to_string(classes.size()) +
                                             " class sub-folders"));

    // The preset size is the first image's declared size, from its header (not decoded).
    const std::string& first = items.front().first;
    check_image_file_size(first);
    const auto [w, h, comp] = read_image_header(first);
    // The first image's size becomes the model's input size when nothing else sets it: a header
    // claiming 100000×100000 must not turn into a 30-billion-float input tensor.
    constexpr long long kMaxPixels = kDefaultMaxPixels;  // decode_image's limit
    if (static_cast<long long>(w) * h > kMaxPixels)
        throw Error(where(first, "declared size " + std::to_string(w) + "x" + std::to_string(h) +
                                     " exceeds the limit of " + std::to_string(kMaxPixels) + " pixels"));
    info.preset.channels = (comp == 1 || comp == 2) ? 1 : 3;
    info.preset.height = h;
    info.preset.width = w;
    // Unknown statistics: leave the normalisation empty (pixels scaled to [0,1] only) unless the
    // folder is named after a known preset.
    if (auto n = normalization_preset(info.name)) {
        info.preset.norm = *n;
        info.preset.norm_source = dataset_preset_source(info.name, "the folder's name");
    }
    return std::make_unique<FolderDataset>(std::move(items), std::move(info), root);
}

}  // namespace camscope::detail
