// IDX readers for MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): big-endian
// headers; images magic 0x00000803 (unsigned bytes, 3 dims: count, rows, cols), labels magic
// 0x00000801 (unsigned bytes, 1 dim: count). Plain files are read on demand with pread. Gzipped
// files cannot be read at an offset, so they are decompressed into memory once at open (47 MB
// for the 60000 training images of MNIST, 7.8 MB for the test split).
#include <zlib.h>

#include <cstring>

#include "camscope/data/formats.hpp"
#include "camscope/util/error.hpp"

namespace camscope::detail {
namespace fs = std::filesystem;

const char* const kIdxLookedFor =
    "{train,t10k}-images-idx3-ubyte[.gz] with the matching labels-idx1 file (in the folder or its raw/), "
    "or the path of an images file";

namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;
constexpr std::uint32_t kLabelsMagic = 0x00000801;
constexpr int kClasses = 10;

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::string hex32(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

/// What an IDX header says the whole file holds: header + product of the dimensions (unsigned
/// bytes), or nullopt while fewer than 4 + 4·dims bytes are known. Bounds gzip decompression.
std::optional<std::uint64_t> idx_claimed_size(const std::vector<std::uint8_t>& head) {
    if (head.size() < 4) return std::nullopt;
    const int dims = head[3];
    const std::size_t header = 4 + 4 * static_cast<std::size_t>(dims);
    if (head.size() < header) return std::nullopt;
    unsigned __int128 total = 1;
    for (int d = 0; d < dims; ++d) {
        total *= be32(head.data() + 4 + 4 * d);
        if (total > (std::uint64_t{1} << 40)) return std::uint64_t{1} << 40;  // "more than anyone has"
    }
    return header + static_cast<std::uint64_t>(total);
}

/// The bytes of one IDX file: in memory (gz) or behind a descriptor (plain).
class IdxSource {
public:
    explicit IdxSource(const fs::path& p) : path_(p.string()) {
        if (lower(p.extension().string()) == ".gz") {
            mem_ = gunzip(path_);
            size_ = mem_.size();
        } else {
            file_ = std::make_unique<ReadOnlyFile>(path_);
            size_ = file_->size();
        }
    }
    const std::string& path() const { return path_; }
    std::uint64_t size() const { return size_; }
    void read_at(std::uint64_t off, std::size_t n, std::uint8_t* dst) const {
        if (file_) return file_->read_at(off, n, dst);
        if (off + n > mem_.size())
            throw Error(where(path_, "expected " + std::to_string(n) + " bytes at byte offset " + std::to_string(off) +
                                         ", file has " + std::to_string(mem_.size())));
        std::memcpy(dst, mem_.data() + off, n);
    }

private:
    static std::vector<std::uint8_t> gunzip(const std::string& path) {
        gzFile gz = gzopen(path.c_str(), "rb");
        if (!gz) throw Error(where(path, std::string("cannot open: ") + std::strerror(errno)));
        std::vector<std::uint8_t> out;
        std::uint8_t buf[1 << 16];
        for (;;) {
            int r = gzread(gz, buf, sizeof buf);
            if (r < 0) {
                int code = 0;
                std::string msg = gzerror(gz, &code);
                gzclose_r(gz);
                throw Error(where(path, "gzip decompression failed after " + std::to_string(out.size()) +
                                            " bytes: " + msg));
            }
            if (r == 0) break;
            out.insert(out.end(), buf, buf + r);
            // A small .gz can expand a thousandfold: stop as soon as the stream holds more than its
            // own header claims (the size check after opening reports the mismatch either way).
            if (auto claimed = idx_claimed_size(out); claimed && out.size() > *claimed) {
                gzclose_r(gz);
                throw Error(where(path, "decompresses to more than the " + std::to_string(*claimed) +
                                            " bytes its IDX header claims (stopped at " + std::to_string(out.size()) +
                                            ")"));
            }
        }
        // gzread returns 0 both at the end and on a truncated stream; gzclose_r reports the latter.
        int code = 0;
        std::string msg = gzerror(gz, &code);
        if (code != Z_OK && code != Z_BUF_ERROR) {
            gzclose_r(gz);
            throw Error(where(path, "gzip decompression failed: " + msg));
        }
        if (code == Z_BUF_ERROR) {
            gzclose_r(gz);
            throw Error(where(path, "truncated gzip stream after " + std::to_string(out.size()) + " bytes"));
        }
        if (gzclose_r(gz) != Z_OK) throw Error(where(path, "gzip close failed"));
        return out;
    }

    std::string path_;
    std::vector<std::uint8_t> mem_;
    std::unique_ptr<ReadOnlyFile> file_;
    std::uint64_t size_ = 0;
};

/// Why an IDX magic number is wrong, in words: ": it declares N dimensions" / ": data type 0x0d".
std::string magic_detail(const std::uint8_t* h, int dims) {
    if (h[0] != 0 || h[1] != 0) return ": not an IDX file";
    if (h[2] != 0x08) return ": data type 0x" + hex32(h[2]).substr(8) + " is not unsigned byte (0x08)";
    if (h[3] != dims) return ": it declares " + std::to_string(h[3]) + " dimensions";
    return "";
}

std::optional<fs::path> with_optional_gz(const fs::path& base) {
    if (is_file(base)) return base;
    fs::path gz = base;
    gz += ".gz";
    if (is_file(gz)) return gz;
    return std::nullopt;
}

struct IdxFiles {
    fs::path images, labels;
};

/// Finds the images/labels pair for `split` under `path` (a folder, its raw/, or an images file).
std::optional<IdxFiles> find_files(const std::string& path, const std::string& split) {
    std::error_code ec;
    if (is_file(path)) {
        const std::string name = fs::path(path).filename().string();
        auto pos = name.find("images-idx3");
        if (pos == std::string::npos) return std::nullopt;
        std::string label_name = name;
        label_name.replace(pos, 11, "labels-idx1");
        fs::path labels = fs::path(path).parent_path() / label_name;
        return IdxFiles{path, labels};
    }
    if (!fs::is_directory(path, ec)) return std::nullopt;
    const std::string prefix = split == "train" ? "train" : "t10k";
    for (const fs::path& d : {fs::path(path), fs::path(path) / "raw"}) {
        auto images = with_optional_gz(d / (prefix + "-images-idx3-ubyte"));
        if (!images) continue;
        auto labels = with_optional_gz(d / (prefix + "-labels-idx1-ubyte"));
        return IdxFiles{*images, labels ? *labels : d / (prefix + "-labels-idx1-ubyte[.gz]")};
    }
    return std::nullopt;
}

class IdxDataset final : public Dataset {
public:
    IdxDataset(const IdxFiles& files, DatasetInfo info) : images_(files.images), info_(std::move(info)) {
        if (!is_file(files.labels)) throw Error(where(files.labels.string(), "missing labels file for " + images_.path()));
        labels_ = std::make_unique<IdxSource>(files.labels);

        std::uint8_t h[16];
        if (images_.size() < 16)
            throw Error(where(images_.path(), "expected a 16-byte IDX header, found " + std::to_string(images_.size()) +
                                                  " bytes"));
        images_.read_at(0, 16, h);
        if (be32(h) != kImagesMagic)
            throw Error(where(images_.path(), "bad magic " + hex32(be32(h)) + ", expected " + hex32(kImagesMagic) +
                                                  " (IDX unsigned-byte images with 3 dimensions)" +
                                                  magic_detail(h, 3)));
        count_ = be32(h + 4);
        rows_ = be32(h + 8);
        cols_ = be32(h + 12);
        if (rows_ == 0 || cols_ == 0 || rows_ > 65536 || cols_ > 65536)
            throw Error(where(images_.path(), "implausible image size " + std::to_string(rows_) + "x" +
                                                  std::to_string(cols_)));
        const std::uint64_t want = 16 + std::uint64_t{count_} * rows_ * cols_;
        if (images_.size() != want)
            throw Error(where(images_.path(), "header claims " + std::to_string(count_) + " images of " +
                                                  std::to_string(rows_) + "x" + std::to_string(cols_) +
                                                  ": expected " + std::to_string(want) + " bytes, found " +
                                                  std::to_string(images_.size())));

        if (labels_->size() < 8)
            throw Error(where(labels_->path(), "expected an 8-byte IDX header, found " +
                                                   std::to_string(labels_->size()) + " bytes"));
        labels_->read_at(0, 8, h);
        if (be32(h) != kLabelsMagic)
            throw Error(where(labels_->path(), "bad magic " + hex32(be32(h)) + ", expected " + hex32(kLabelsMagic) +
                                                   " (IDX unsigned-byte labels with 1 dimension)" +
                                                   magic_detail(h, 1)));
        const std::uint32_t nlabels = be32(h + 4);
        if (labels_->size() != 8 + std::uint64_t{nlabels})
            throw Error(where(labels_->path(), "header claims " + std::to_string(nlabels) + " labels: expected " +
                                                   std::to_string(8 + std::uint64_t{nlabels}) + " bytes, found " +
                                                   std::to_string(labels_->size())));
        if (nlabels != count_)
            throw Error(where(labels_->path(), "holds " + std::to_string(nlabels) + " labels but " + images_.path() +
                                                   " holds " + std::to_string(count_) + " images"));
        info_.preset.channels = 1;
        info_.preset.height = static_cast<int>(rows_);
        info_.preset.width = static_cast<int>(cols_);
    }

    std::size_t size() const override { return count_; }
    const DatasetInfo& info() const override { return info_; }

    Sample get(std::size_t i) const override {
        if (i >= count_)
            throw Error("IDX sample index " + std::to_string(i) + " out of range (dataset has " +
                        std::to_string(count_) + " items)");
        Sample s;
        std::uint8_t label = 0;
        labels_->read_at(8 + i, 1, &label);
        if (label >= kClasses)
            throw Error(where(labels_->path(), static_cast<long long>(i), static_cast<long long>(8 + i),
                              "label " + std::to_string(label) + " out of range, expected 0.." +
                                  std::to_string(kClasses - 1)));
        s.label = label;
        const std::size_t n = std::size_t{rows_} * cols_;
        s.image.width = static_cast<int>(cols_);
        s.image.height = static_cast<int>(rows_);
        s.image.channels = 1;
        s.image.pixels.resize(n);
        images_.read_at(16 + i * n, n, s.image.pixels.data());
        return s;
    }

private:
    IdxSource images_;
    std::unique_ptr<IdxSource> labels_;
    DatasetInfo info_;
    std::uint32_t count_ = 0, rows_ = 0, cols_ = 0;
};

}  // namespace

bool detect_idx(const std::string& path) {
    return find_files(path, "test").has_value() || find_files(path, "train").has_value();
}

std::unique_ptr<Dataset> open_idx(const std::string& path, const std::string& split) {
    auto files = find_files(path, split);
    if (!files)
        throw Error(where(path, "no IDX " + split + " split found; looked for " + std::string(kIdxLookedFor)));
    DatasetInfo info;
    info.format = "idx";
    const bool fashion = lower(fs::absolute(path).string()).find("fashion") != std::string::npos;
    info.name = fashion ? "fashion-mnist" : "mnist";
    info.split = split;
    if (fashion) {
        info.class_names = fashion_mnist_classes();
    } else {
        for (int d = 0; d < kClasses; ++d) info.class_names.push_back(std::to_string(d));
    }
    info.preset.norm = *normalization_preset(info.name);
    info.preset.norm_source =
        dataset_preset_source(info.name, fashion ? "IDX files, \"fashion\" in the path" : "IDX files, no \"fashion\" in the path");
    return std::make_unique<IdxDataset>(*files, std::move(info));
}

}  // namespace camscope::detail
