#pragma once
// The CAM job behind `camscope cam`, the Python package's Model.cam and the explorer server's live
// CAMs — one implementation, torch-free (engine facade only): images and target slots in, per
// batch the logits, the predictions and the maps at the target layer's size and at the input size
// out. The edges only parse their arguments, draw (image/cam_view.hpp) and write (PNG, cams.npy,
// cams.csv, JSON).
//
//   run_cam_job()  the job in batches; each batch handed to a callback as it is done (the CLI
//                  writes its overlays batch by batch, the server takes its one image's batch).
//   cam_maps()     the same, every batch collected: logits, predictions and the maps at the input
//                  size of the whole job (the Python package's Model.cam).
//
// Shapes. N: images in the job; n: images in one batch (at most CamJob::batch_size); S: target
// slots (CamJob::targets); K: the model's classes; C×H×W: the model input (InputSpec); h×w: the
// target layer's map (BatchResult::fh×fw; H×W when the engine returns final maps at the input
// size: several layers, aug_smooth, a layer at the input's resolution). Maps are row-major, slot
// first: map (s, i) of a batch starts at (s·n + i)·h·w.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "camscope/data/class_ref.hpp"
#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"

namespace camscope {

/// The images of a job, read one batch at a time: dataset images (`get`: the job brings each to
/// the model input with to_input, and knows its label) or the model input already prepared
/// (`input`: no images, no labels). dataset_images() and prepared_input() make them.
struct CamImages {
    std::size_t count = 0;                          // N
    std::function<Sample(std::size_t i)> get;       // image i of the job (0 <= i < count), with its label
    const float* input = nullptr;                   // or N×C×H×W float32, normalised (when `get` is unset)
    /// How errors name image i (a NaN map: "image 17", CamRequest::image_ids): its dataset index;
    /// empty = its position in the job.
    std::vector<long long> ids;
};

/// Images `indices` of `ds` (which must outlive the job), named by their dataset index. UsageError
/// "image index I out of range: the dataset has M images" for an index past the dataset, before
/// any image is read.
CamImages dataset_images(const Dataset& ds, std::vector<std::size_t> indices);
/// `n` inputs already prepared (n×C×H×W float32 at `x`, normalised for the model), named by their
/// position.
CamImages prepared_input(const float* x, std::size_t n);

/// What the job computes besides the images.
struct CamJob {
    /// Method, layers, smoothing, max_channels, alpha (check_cam_settings). The layers must be
    /// resolved (Model::resolve_layer), at least one; several are fused (the maps are final at H×W).
    CamSettings cam;
    /// The target slots (S of them): targets[s] is one ClassRef for every image or one per image
    /// (N). Pred: the image's prediction (the top-1 class of this very forward); True: its label
    /// (dataset images only); Index: that class.
    std::vector<std::vector<ClassRef>> targets;
    /// Finer-CAM's comparison classes: none (the 3 classes whose logits are closest to the
    /// target's), one list for every image, or one list per image (N). True: the image's label;
    /// Pred is refused (the prediction is not known before the forward). Finercam only.
    std::vector<std::vector<ClassRef>> contrast;
    /// Also the unnormalised maps at the input size (CamBatch::raw_at_input): upsampled, no ReLU
    /// or min-max (what `camscope cam --raw` keeps in cams.npy).
    bool raw = false;
    /// Images per forward, and rows per forward of the perturbation methods (scorecam, ablationcam;
    /// CamRequest::perturb_batch).
    int batch_size = 64;
    /// A bar "<method> CAMs" over the job's images (util/progress.hpp; its sink may throw to stop).
    bool progress = false;
    /// Progress of the perturbation methods within a batch: forwards done / total
    /// (CamRequest::on_progress). It may throw to abandon the job (the server's client went away).
    std::function<void(long long done, long long total)> on_forwards;
};

/// One batch's results: images start … start+n-1 of the job.
struct CamBatch {
    std::size_t start = 0;
    int n = 0, slots = 0, num_classes = 0;
    /// The images as read (dataset images only; empty for prepared input): what the maps are drawn
    /// over, at their own size.
    std::vector<Sample> samples;
    std::vector<int> labels;    // n: each image's label; -1 for prepared input
    std::vector<float> logits;  // n×K
    std::vector<float> probs;   // n×K, softmax of the logits (metrics::softmax_rows)
    std::vector<int> preds;     // n, the top-1 class (metrics::argmax_rows of probs)
    /// S×n: the class each map explains (Pred and True resolved to preds[i] and labels[i]).
    std::vector<std::vector<int>> targets;
    /// S×n×h×w: the engine's maps (BatchResult::cams: per map ReLU + min-max at the layer's size,
    /// or final at H×W), what the explorer's JSON and statistics use.
    int fh = 0, fw = 0;
    std::vector<float> maps;
    /// S×n×H×W: the maps at the input size as pytorch-grad-cam returns them (cams_at_input_size):
    /// what is drawn (view_cam) and what cams.npy holds.
    int height = 0, width = 0;
    std::vector<float> at_input;
    /// S×n×H×W, with CamJob::raw only: the unnormalised maps upsampled (upsample_cams).
    std::vector<float> raw_at_input;
    /// S×n: the map has no positive evidence (degenerate_cam of the map in `maps`; its input-size
    /// form is degenerate alike): drawn as the hatched stand-in, never as an overlay.
    std::vector<std::uint8_t> degenerate;

    const float* map(int slot, int i) const { return maps.data() + (static_cast<std::size_t>(slot) * n + i) * fh * fw; }
    const float* map_at_input(int slot, int i) const {
        return at_input.data() + (static_cast<std::size_t>(slot) * n + i) * height * width;
    }
    bool blank(int slot, int i) const { return degenerate[static_cast<std::size_t>(slot) * n + i] != 0; }
};

struct CamJobSummary {
    std::size_t images = 0;  // N
    int num_classes = 0;     // K (asked of the model with one probe forward when N = 0)
};

/// The job: checks it first (check_cam_settings with the contrast; batch_size >= 1; at least one
/// slot; each slot's and the contrast's length 1 or N; True only for dataset images: UsageError),
/// then per batch of at most batch_size images: reads them (dataset images: get + to_input),
/// resolves the slots, runs the model (Model::run, all slots in one forward), brings the maps to
/// the input size and calls on_batch (which may move from the batch, and throw to stop). Throws
/// what Model::run throws (a NaN map names its image by CamImages::ids).
CamJobSummary run_cam_job(Model& m, const CamImages& images, const InputSpec& s, const CamJob& job,
                          const std::function<void(CamBatch&)>& on_batch);

/// Every batch of the job collected.
struct CamMaps {
    std::size_t n = 0;  // N
    int slots = 0, num_classes = 0, height = 0, width = 0;
    std::vector<float> logits, probs;  // N×K
    std::vector<int> preds, labels;    // N (labels -1 for prepared input)
    /// S×N×H×W: CamBatch::at_input, or CamBatch::raw_at_input with CamJob::raw (cams.npy's values).
    std::vector<float> maps;
    std::vector<std::uint8_t> degenerate;  // S×N
};
CamMaps cam_maps(Model& m, const CamImages& images, const InputSpec& s, const CamJob& job);

}  // namespace camscope
