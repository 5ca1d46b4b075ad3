#pragma once
// Torch-free dataset interface: CIFAR-10/100 binary, IDX (MNIST, Fashion-MNIST), image folders.
// Datasets are random-access and stream from disk where the format allows: memory stays bounded
// by what the caller holds, not by the dataset size.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "camscope/image/image.hpp"

namespace camscope {

class Sha256;

/// Per-channel normalisation applied after scaling pixels to [0,1]: x = (p/255 - mean) / std.
struct Normalization {
    std::vector<float> mean;  // one per channel
    std::vector<float> std;
};

/// What a model expects as input: C×H×W and normalisation.
struct InputSpec {
    int channels = 0;
    int height = 0;
    int width = 0;
    Normalization norm;
    /// Where `norm` came from, as every report states it ("model metadata", "dataset preset
    /// cifar10 (...)", "user mean/std", ...: data/input_spec.hpp); "" where nothing decided it yet.
    std::string norm_source{};  // (with {}: aggregate initialisers that leave it out stay warning-free)
};

struct Sample {
    Image image;
    int label = -1;   // fine label, in [0, num_classes)
    int coarse = -1;  // superclass label, or -1 when the dataset has none
};

struct DatasetInfo {
    std::string format;                     // "cifar10", "cifar100", "idx", "folder"
    std::string name;                       // e.g. "fashion-mnist", "cifar100", folder name
    std::string split;                      // "test" or "train"
    std::vector<std::string> class_names;   // size = number of classes
    std::string names_source;               // where class_names were read from (a names file, the
                                            // class folders); "" when generic or implied by the
                                            // format (IDX), so they say nothing about the labels
    std::vector<std::string> coarse_names;  // empty when no superclasses
    std::vector<int> fine_to_coarse;        // empty when no superclasses; else size = classes
    InputSpec preset;                       // native size and the usual normalisation (empty for
                                            // image folders not named after a known preset);
                                            // preset.norm_source says which preset and why
    /// The normalisation the images already had where they came from (a torchvision transform's
    /// Normalize: the pixels here were recovered from its float tensors) and what applied it
    /// ("the torchvision transform (Normalize)"); the model is then fed exactly that
    /// (resolve_input_spec, data/input_spec.hpp). nullopt: the images are plain pixels.
    std::optional<Normalization> applied_norm;
    std::string applied_by;
};

class Dataset {
public:
    virtual ~Dataset() = default;
    virtual size_t size() const = 0;
    /// Reads sample i (0 <= i < size()). Throws Error naming the file/record on malformed data.
    virtual Sample get(size_t i) const = 0;
    virtual const DatasetInfo& info() const = 0;
    size_t num_classes() const { return info().class_names.size(); }
    /// The size its images are used at (the model's input). Formats whose images can be far larger
    /// (image folders of photos) then decode each one reduced (decode_image_reduced in image.hpp:
    /// never below this size, JPEGs at a smaller DCT scale), instead of at full size: memory and
    /// time stay bounded by what the model and the figures need. Call before reading, not while
    /// other threads call get(). The default ignores it (CIFAR and IDX images have one size).
    virtual void set_input_size(int height, int width) {}
    /// Feeds what identifies this dataset's content into `h` (the dataset fingerprint of a run's
    /// identity, report/identity.hpp), so that any changed label or image changes it:
    /// - by default (CIFAR, IDX, arrays): every image's index, label, size and pixels, as decoded
    ///   (a copy elsewhere, or gzipped, gives the same); an image that cannot be read counts as
    ///   its index and "unreadable";
    /// - image folders: every file's path under the folder, its size in bytes and its class (the
    ///   files are not decoded: a same-sized edit of an image's bytes is not seen).
    /// The default feeds fingerprint_item of every image; views (reorder_classes, first_images)
    /// forward to the dataset they show.
    virtual void fingerprint(Sha256& h) const;
    /// Image i's part of the fingerprint.
    virtual void fingerprint_item(Sha256& h, size_t i) const;
};

struct OpenOptions {
    std::string split = "test";  // "test" | "train"
    std::string format{};        // "" = detect | "cifar10" | "cifar100" | "idx" | "folder"
};

/// Opens a dataset at `path`: a directory (CIFAR binary dir, IDX dir, class folders), or a
/// CIFAR .bin file / IDX images file. Throws Error if nothing matches, naming what was looked for.
std::unique_ptr<Dataset> open_dataset(const std::string& path, const OpenOptions& opt = {});

/// `data` with its classes in another order: sample label l becomes to_new[l], the class names
/// become `names` (already in the new order), the superclass map is reordered to match.
/// `to_new` must be a permutation of 0..num_classes-1 (Error otherwise).
std::unique_ptr<Dataset> reorder_classes(std::unique_ptr<Dataset> data, std::vector<int> to_new,
                                         std::vector<std::string> names);

/// How two lists of class names are matched: case-insensitively, as a folder name can spell them.
std::string class_name_key(const std::string& name);

/// The map from `names`' classes to `target`'s (to_new for reorder_classes) when the two lists
/// hold the same classes (class_name_key, each once), in any order; nullopt when they do not.
std::optional<std::vector<int>> class_order_by_name(const std::vector<std::string>& names,
                                                    const std::vector<std::string>& target);

/// The first `n` images of `data` (n > 0; all of them when n >= its size), labels and classes
/// unchanged: the Python package's Dataset(path, limit=N).
std::unique_ptr<Dataset> first_images(std::unique_ptr<Dataset> data, size_t n);

/// `data` with its classes named `names` (one per class, in label order; UsageError naming both
/// counts otherwise); `source` becomes DatasetInfo::names_source: where the names came from.
std::unique_ptr<Dataset> rename_classes(std::unique_ptr<Dataset> data, std::vector<std::string> names,
                                        std::string source);

/// Known normalisation presets by dataset name ("cifar10", "cifar100", "mnist", "fashion-mnist",
/// "imagenet"); nullopt if unknown.
std::optional<Normalization> normalization_preset(const std::string& name);
/// How a dataset reader states the preset it sets: "dataset preset NAME (WHY)", e.g. "dataset
/// preset cifar10 (the CIFAR-10 binary format)".
std::string dataset_preset_source(const std::string& name, const std::string& why);

/// Image -> C×H×W float32 in `dst` (size C*H*W): converted to spec.channels, resized (bilinear,
/// half-pixel) to spec.height×spec.width if needed, scaled to [0,1] and normalised.
/// norm.mean/std may hold one value per channel, one for all, or none (no normalisation);
/// anything else, or a std <= 0, throws UsageError.
void to_input(const Image& img, const InputSpec& spec, float* dst);

/// Fashion-MNIST's ten class names (T-shirt/top … Ankle boot).
const std::vector<std::string>& fashion_mnist_classes();

}  // namespace camscope
