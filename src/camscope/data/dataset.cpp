#include "camscope/data/dataset.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "camscope/data/formats.hpp"
#include "camscope/util/sha256.hpp"
#include "camscope/util/strings.hpp"
#include "camscope/util/error.hpp"

namespace camscope {
namespace detail {
namespace fs = std::filesystem;

ReadOnlyFile::ReadOnlyFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error(where(path_, std::string("cannot open: ") + std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        int err = errno;
        ::close(fd_);
        throw Error(where(path_, std::string("cannot stat: ") + std::strerror(err)));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd_);
        throw Error(where(path_, "not a regular file"));
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
}

ReadOnlyFile::~ReadOnlyFile() {
    if (fd_ >= 0) ::close(fd_);
}

void ReadOnlyFile::read_at(std::uint64_t offset, std::size_t n, std::uint8_t* dst) const {
    std::size_t got = 0;
    while (got < n) {
        ssize_t r = ::pread(fd_, dst + got, n - got, static_cast<off_t>(offset + got));
        if (r < 0) {
            if (errno == EINTR) continue;
            throw Error(where(path_, "read of " + std::to_string(n) + " bytes at byte offset " + std::to_string(offset) +
                                         " failed: " + std::strerror(errno)));
        }
        if (r == 0)
            throw Error(where(path_, "expected " + std::to_string(n) + " bytes at byte offset " + std::to_string(offset) +
                                         ", found " + std::to_string(got) + " (file shrank?)"));
        got += static_cast<std::size_t>(r);
    }
}

std::vector<std::string> read_name_lines(const fs::path& file) {
    std::error_code ec;
    if (!fs::exists(file, ec)) return {};
    std::ifstream in(file);
    if (!in) throw Error(where(file.string(), "cannot open class-name file"));
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
        auto b = line.find_first_not_of(" \t\r\n");
        if (b == std::string::npos) continue;
        auto e = line.find_last_not_of(" \t\r\n");
        out.push_back(line.substr(b, e - b + 1));
    }
    if (in.bad()) throw Error(where(file.string(), "read error"));
    return out;
}

std::vector<std::string> generic_names(std::size_t n) {
    std::vector<std::string> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back("class_" + std::to_string(i));
    return out;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace detail

std::unique_ptr<Dataset> open_dataset(const std::string& path, const OpenOptions& opt) {
    if (opt.split != "test" && opt.split != "train")
        throw UsageError("unknown split '" + opt.split + "' (expected 'test' or 'train')");
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw Error(where(path, "no such file or directory"));

    using Opener = std::unique_ptr<Dataset> (*)(const std::string&, const std::string&);
    struct Format {
        const char* name;
        bool (*detect)(const std::string&);
        Opener open;
        const char* looked_for;
    };
    // Most specific first: the folder layout would also accept many other directories.
    static const Format formats[] = {
        {"cifar10", detail::detect_cifar10, detail::open_cifar10, detail::kCifar10LookedFor},
        {"cifar100", detail::detect_cifar100, detail::open_cifar100, detail::kCifar100LookedFor},
        {"idx", detail::detect_idx, detail::open_idx, detail::kIdxLookedFor},
        {"folder", detail::detect_folder, detail::open_folder, detail::kFolderLookedFor},
    };
    if (!opt.format.empty()) {
        for (const auto& f : formats)
            if (opt.format == f.name) return f.open(path, opt.split);
        throw UsageError("unknown dataset format '" + opt.format + "' (expected cifar10, cifar100, idx or folder)");
    }
    std::string looked;
    for (const auto& f : formats) {
        if (f.detect(path)) return f.open(path, opt.split);
        looked += std::string("\n  ") + f.name + ": " + f.looked_for;
    }
    throw Error(where(path, "no known dataset layout found; looked for:" + looked));
}

void Dataset::fingerprint(Sha256& h) const {
    for (size_t i = 0; i < size(); ++i) fingerprint_item(h, i);
}

void Dataset::fingerprint_item(Sha256& h, size_t i) const {
    h.update_u64(i);
    Sample s;
    try {
        s = get(i);
    } catch (const Error&) {  // (--limit may leave it out of the analysis): a fixed marker
        h.update("unreadable");
        return;
    }
    h.update_u64(static_cast<std::uint64_t>(static_cast<std::int64_t>(s.label)));
    h.update_u64(static_cast<std::uint64_t>(s.image.width));
    h.update_u64(static_cast<std::uint64_t>(s.image.height));
    h.update_u64(static_cast<std::uint64_t>(s.image.channels));
    h.update(s.image.pixels.data(), s.image.pixels.size());
}

namespace {

class ReorderedDataset final : public Dataset {
public:
    ReorderedDataset(std::unique_ptr<Dataset> data, std::vector<int> to_new, DatasetInfo info)
        : data_(std::move(data)), to_new_(std::move(to_new)), info_(std::move(info)) {}
    size_t size() const override { return data_->size(); }
    const DatasetInfo& info() const override { return info_; }
    Sample get(size_t i) const override {
        Sample s = data_->get(i);
        if (s.label >= 0 && static_cast<size_t>(s.label) < to_new_.size()) s.label = to_new_[s.label];
        return s;  // a label out of range stays so, for the caller's range check to name it
    }
    void set_input_size(int height, int width) override { data_->set_input_size(height, width); }
    void fingerprint(Sha256& h) const override {
        data_->fingerprint(h);
        for (int c : to_new_) h.update_u64(static_cast<std::uint64_t>(c));
    }
    void fingerprint_item(Sha256& h, size_t i) const override { data_->fingerprint_item(h, i); }

private:
    std::unique_ptr<Dataset> data_;
    std::vector<int> to_new_;
    DatasetInfo info_;
};

}  // namespace

std::unique_ptr<Dataset> reorder_classes(std::unique_ptr<Dataset> data, std::vector<int> to_new,
                                         std::vector<std::string> names) {
    const size_t k = data->num_classes();
    std::vector<char> seen(k, 0);
    bool ok = to_new.size() == k && names.size() == k;
    for (int c : to_new) {
        ok = ok && c >= 0 && static_cast<size_t>(c) < k && !seen[c];
        if (ok) seen[c] = 1;
    }
    if (!ok)
        throw Error("reorder_classes: expected a permutation of the " + std::to_string(k) + " classes of " +
                    data->info().name + " and as many names");
    DatasetInfo info = data->info();
    info.class_names = std::move(names);
    if (!info.fine_to_coarse.empty()) {
        std::vector<int> f2c(k);
        for (size_t c = 0; c < k; ++c) f2c[to_new[c]] = info.fine_to_coarse[c];
        info.fine_to_coarse = std::move(f2c);
    }
    return std::make_unique<ReorderedDataset>(std::move(data), std::move(to_new), std::move(info));
}

std::string class_name_key(const std::string& name) { return sanitize_filename(to_lower(name)); }

std::optional<std::vector<int>> class_order_by_name(const std::vector<std::string>& names,
                                                    const std::vector<std::string>& target) {
    if (names.size() != target.size()) return std::nullopt;
    std::map<std::string, int> index;
    for (size_t c = 0; c < target.size(); ++c) index.emplace(class_name_key(target[c]), static_cast<int>(c));
    if (index.size() != target.size()) return std::nullopt;
    std::vector<int> to_new(names.size(), -1);
    std::vector<char> used(target.size(), 0);
    for (size_t c = 0; c < names.size(); ++c) {
        auto it = index.find(class_name_key(names[c]));
        if (it == index.end() || used[it->second]) return std::nullopt;
        used[it->second] = 1;
        to_new[c] = it->second;
    }
    return to_new;
}

namespace {

class FirstImages final : public Dataset {
public:
    FirstImages(std::unique_ptr<Dataset> data, size_t n) : data_(std::move(data)), n_(std::min(n, data_->size())) {}
    size_t size() const override { return n_; }
    const DatasetInfo& info() const override { return data_->info(); }
    Sample get(size_t i) const override {
        if (i >= n_)
            throw Error(data_->info().name + ": image index " + std::to_string(i) + " out of range (the first " +
                        std::to_string(n_) + " images)");
        return data_->get(i);
    }
    void set_input_size(int height, int width) override { data_->set_input_size(height, width); }
    void fingerprint_item(Sha256& h, size_t i) const override { data_->fingerprint_item(h, i); }

private:
    std::unique_ptr<Dataset> data_;
    size_t n_;
};

}  // namespace

std::unique_ptr<Dataset> first_images(std::unique_ptr<Dataset> data, size_t n) {
    if (n == 0) throw UsageError("first_images: need at least one image");
    return std::make_unique<FirstImages>(std::move(data), n);
}

std::unique_ptr<Dataset> rename_classes(std::unique_ptr<Dataset> data, std::vector<std::string> names,
                                        std::string source) {
    const size_t k = data->num_classes();
    if (names.size() != k)
        throw UsageError(std::to_string(names.size()) + " class names for the " + std::to_string(k) + " classes of " +
                         data->info().name);
    DatasetInfo info = data->info();
    info.class_names = std::move(names);
    info.names_source = std::move(source);
    std::vector<int> same(k);
    for (size_t c = 0; c < k; ++c) same[c] = static_cast<int>(c);
    return std::make_unique<ReorderedDataset>(std::move(data), std::move(same), std::move(info));
}

std::optional<Normalization> normalization_preset(const std::string& name) {
    // Channel statistics of each training set as commonly published (torchvision references,
    // the CIFAR/MNIST training recipes most checkpoints were trained with).
    const std::string n = detail::lower(name);
    if (n == "cifar10") return Normalization{{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
    if (n == "cifar100") return Normalization{{0.507f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2761f}};
    if (n == "mnist") return Normalization{{0.1307f}, {0.3081f}};
    if (n == "fashion-mnist" || n == "fashion_mnist" || n == "fashionmnist")
        return Normalization{{0.2860f}, {0.3530f}};
    if (n == "imagenet") return Normalization{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
    return std::nullopt;
}

std::string dataset_preset_source(const std::string& name, const std::string& why) {
    return "dataset preset " + detail::lower(name) + " (" + why + ")";
}

void to_input(const Image& img, const InputSpec& spec, float* dst) {
    if (spec.channels != 1 && spec.channels != 3)
        throw UsageError("input spec has " + std::to_string(spec.channels) + " channels (expected 1 or 3)");
    if (spec.height <= 0 || spec.width <= 0)
        throw UsageError("input spec size " + std::to_string(spec.height) + "x" + std::to_string(spec.width) +
                         " must be positive");
    const auto& mean = spec.norm.mean;
    const auto& sd = spec.norm.std;
    // An empty normalisation means "scale to [0,1] only"; one value applies to every channel.
    auto sized_ok = [&](std::size_t n) { return n == 0 || n == 1 || n == static_cast<std::size_t>(spec.channels); };
    if (!sized_ok(mean.size()) || !sized_ok(sd.size()))
        throw UsageError("normalisation has " + std::to_string(mean.size()) + " means and " + std::to_string(sd.size()) +
                         " stds for " + std::to_string(spec.channels) + " channels");
    for (float s : sd)
        if (!(s > 0)) throw UsageError("normalisation std " + std::to_string(s) + " must be positive");

    Image conv = img.channels == spec.channels ? img : convert_channels(img, spec.channels);
    if (conv.width != spec.width || conv.height != spec.height) conv = resize_bilinear(conv, spec.width, spec.height);

    const std::size_t plane = static_cast<std::size_t>(spec.height) * spec.width;
    for (int c = 0; c < spec.channels; ++c) {
        const float m = mean.empty() ? 0.0f : mean[mean.size() == 1 ? 0 : c];
        const float s = sd.empty() ? 1.0f : sd[sd.size() == 1 ? 0 : c];
        float* out = dst + c * plane;
        for (std::size_t i = 0; i < plane; ++i)
            out[i] = (static_cast<float>(conv.pixels[i * spec.channels + c]) / 255.0f - m) / s;
    }
}

const std::vector<std::string>& fashion_mnist_classes() {
    static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return names;
}

}  // namespace camscope
