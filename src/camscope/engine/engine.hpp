#pragma once
// Torch-free facade of the inference/CAM engine. Everything here is plain C++ so that the CLI,
// reports and most tests compile without torch headers; the torch code lives in engine/*.cpp.
//
// Shapes: inputs are float32 N×C×H×W (row-major, already normalised, see to_input());
// logits N×K (K classes); CAM maps S×N×h×w at the target layer's resolution h×w (S target slots),
// brought to the input size on demand with cams_at_input_size(). With several layers or
// aug_smooth the engine returns them at the input size already (h×w = H×W, final).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/cam_settings.hpp"
#include "camscope/engine/layout.hpp"

namespace camscope {

struct EngineOptions {
    int threads = 0;           // intra-op threads; 0 = all available cores
    std::string device = "cpu";  // "cpu" | "cuda" | "cuda:N"
    bool quiet = false;        // no notes on stderr
    /// --layout / --grid: how to read the CAM target layer's output (layout.hpp); "" = infer.
    std::string layout = {}, grid = {};
    /// --logits: which element of a tuple, list or dict output holds the logits. "" = automatic
    /// (a tensor output as it is; of a container, its one element that is a floating N×K tensor with
    /// one row per image); a whole number = index into a tuple or list (negative: from the end);
    /// anything else = key of a dict. See engine::logits_of (torch_internal.hpp).
    std::string logits = {};
};

/// Applies EngineOptions' thread setting to LibTorch and returns the count in effect: `threads`
/// (0 = all cores), at most the number of cores.
int configure_threads(int threads);

struct LayerInfo {
    std::string path;                  // dotted module path, e.g. "layer3.1.conv2"
    std::string type;                  // module class name, e.g. "Conv2d"
    std::vector<std::int64_t> shape;   // output shape for a 1×C×H×W input; empty if not a tensor
    Layout layout;                     // as inferred (not forced): kind none = no CAM possible, and why
    Layout forced;                     // as EngineOptions::layout/grid read it (= layout when not forced)
};

struct ModelInfo {
    std::string path;
    std::string kind;                      // "scripted", "traced" or "camscope:<arch>"
    std::vector<std::string> class_names;  // from camscope metadata; empty for foreign models
    std::optional<InputSpec> input;        // from camscope metadata
    bool train_mode_baked = false;         // traced in train mode: batch_norm/dropout in training
    std::string metadata_json;             // raw camscope metadata ("" if none)
    std::string device = "cpu";            // where it runs: "cpu", "cuda", "cuda:N" (EngineOptions::device)
    std::string logits;                    // EngineOptions::logits: the output's logits element ("" = automatic)
};

/// One call's CAMs: the settings (CamSettings, embedded: `req.settings() = s` sets them all at
/// once) and what belongs to this call only (targets, contrast classes, output form).
struct CamRequest : CamSettings {
    CamSettings& settings() { return *this; }
    const CamSettings& settings() const { return *this; }
    /// targets[s][i]: class for slot s, image i; -1 = the image's predicted (top-1) class.
    std::vector<std::vector<int>> targets;
    bool raw = false;       // keep unnormalised maps (no ReLU/min-max)
    bool also_raw = false;  // the scaled maps in `cams` and the unnormalised ones in `raw_cams`
    /// Finer-CAM ("finercam"): the comparison classes of each image (contrast[i]), or one list for
    /// every image (a single entry); empty: per image the 3 classes whose logits are closest to the
    /// target's (pytorch-grad-cam's FinerCAM default). The target slot gives the main class.
    std::vector<std::vector<int>> contrast;
    int perturb_batch = 64;       // rows per forward of the perturbation methods
    /// Optional: the dataset index of each image (row) of the batch, so that errors about one
    /// image's map (NaN or infinite) can name it; rows without one are named by their batch row.
    std::vector<long long> image_ids;
    /// Progress of the perturbation methods: forwards done / total within the current map.
    std::function<void(long long done, long long total)> on_progress;
};

struct BatchResult {
    int n = 0;
    int num_classes = 0;
    std::vector<float> logits;  // n×K
    int slots = 0, fh = 0, fw = 0;
    /// slots×n×fh×fw; per image ReLU + min-max to [0,1] at the layer's resolution unless raw. A map
    /// at the input size (several layers, aug_smooth, or a layer at the input's resolution) is
    /// final: pytorch-grad-cam's whole post-processing has been applied to it.
    std::vector<float> cams;
    std::vector<float> raw_cams;  // slots×n×fh×fw unnormalised, with CamRequest::also_raw
};

class Model {
public:
    /// Loads a TorchScript file (traced or scripted; camscope's own checkpoints too).
    /// Throws Error: missing file, not TorchScript; UsageError: a device that is not cpu, or a
    /// CUDA device this LibTorch cannot use.
    static Model load(const std::string& path, const EngineOptions& opt = {});
    /// The same from a serialized TorchScript module in memory (torch.jit.save into a buffer; the
    /// Python package's Model.from_torch). `name` stands for the path in messages and ModelInfo.
    static Model load_bytes(std::string bytes, const std::string& name, const EngineOptions& opt = {});
    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    ~Model();

    const ModelInfo& info() const;
    int threads() const;

    /// Every submodule with its output shape for one input of `spec`'s size, in call order.
    std::vector<LayerInfo> layers(const InputSpec& spec);
    /// Resolves a layer name (validates it exists and that its output has a spatial layout, as
    /// forced by EngineOptions::layout/grid or inferred; suggests the nearest names) or, for "",
    /// picks one automatically: for a transformer (a layer whose type name contains "Attention"
    /// reads tokens), the output of the last token LayerNorm before the last attention (torchvision
    /// ViT: encoder.layers[-1].ln_1; timm: blocks[-1].norm1, pytorch-grad-cam's tutorial choice);
    /// otherwise the last layer with a channels-first or channels-last output of spatial size > 1.
    /// Throws Error saying why when no layer qualifies.
    std::string resolve_layer(const std::string& name, const InputSpec& spec);
    /// The layout the CAM reads `layer`'s output in for `spec`'s input (forced or inferred);
    /// UsageError when there is none (what was seen, how to force it).
    Layout layer_layout(const std::string& layer, const InputSpec& spec);
    /// Number of classes the model outputs for `spec`-sized input (one probe forward).
    int num_classes(const InputSpec& spec);

    /// Forward (and CAMs when `cam` is non-null) for x: n×C×H×W float32. Throws Error when the
    /// model's output is not n×K logits (K >= 1, finite; of a tuple, list or dict output the element
    /// EngineOptions::logits selects, UsageError when that choice is ambiguous or names nothing), or
    /// when a CAM map is NaN or infinite.
    BatchResult run(const float* x, int n, const InputSpec& spec, const CamRequest* cam = nullptr);

    /// The model parameter randomisation test (Adebayo et al. 2018; engine/sanity.cpp).
    /// The submodules that run after `layer` (call order) and hold parameters of their own, output
    /// end first: the steps of the cascade. `layer`'s own submodules are not among them.
    std::vector<std::string> modules_above(const std::string& layer, const InputSpec& spec);
    /// A separate model (this one is not touched) whose `modules` (dotted paths) have every parameter
    /// tensor redrawn from N(0, s²), s = the tensor's own standard deviation (1 where it is 0 or the
    /// tensor has one element), from one generator seeded with `seed`, the modules in the order given
    /// and each one's parameters in definition order (so a longer list extends a shorter one's draws:
    /// the cascade). Buffers (batch-norm running statistics) are kept. UsageError for a path that
    /// names no submodule.
    Model randomized(const std::vector<std::string>& modules, std::uint64_t seed);

private:
    struct Impl;
    explicit Model(std::unique_ptr<Impl> impl);
    static Model load_from(const std::string& path, std::string* bytes, const EngineOptions& opt);
    std::unique_ptr<Impl> impl_;
    friend struct ModelAccess;
};

/// Upsamples maps (count×fh×fw) to out_h×out_w with half-pixel bilinear interpolation, nothing
/// else: for the unnormalised maps of CamRequest::raw / also_raw.
std::vector<float> upsample_cams(const float* maps, int count, int fh, int fw, int out_h, int out_w);
/// The scaled maps of a BatchResult (count×fh×fw) at the input size out_h×out_w, as
/// pytorch-grad-cam returns them: resized, then ReLU and min-max again (image.hpp's
/// cam_to_input_size). Every map shown, saved or measured at the input size comes from here.
std::vector<float> cams_at_input_size(const float* maps, int count, int fh, int fw, int out_h, int out_w);

/// Names of the registered CAM methods.
std::vector<std::string> cam_methods();

}  // namespace camscope
