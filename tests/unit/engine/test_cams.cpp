// The CAM job (pipeline/cams.hpp) against the engine called directly: one Model::run over all the
// images with the targets and contrast classes spelled out by hand, its maps brought to the input
// size with cams_at_input_size / upsample_cams, softmax and argmax computed here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/pipeline/cams.hpp"
#include "camscope/pipeline/pipeline.hpp"
#include "camscope/util/error.hpp"
#include "fixture_manifest.hpp"

using namespace camscope;
using camscope::testing::max_abs_diff;

namespace {

const std::string kDir = CAMSCOPE_FIXTURES_DIR;

std::string device() {
    const char* d = std::getenv("CAMSCOPE_TEST_DEVICE");
    return d && *d ? d : "cpu";
}

/// The job runs the images in batches of its own, the reference in one: on the CPU the same within
/// float32 rounding; a GPU may choose other kernels per batch size (the engine tests' 1e-4).
const double kTol = device() == "cpu" ? 1e-5 : 1e-4;

/// The tiny CIFAR-10 set and its model, on CAMSCOPE_TEST_DEVICE (as every engine test) or the CPU.
struct Fixture {
    std::unique_ptr<Dataset> ds = open_dataset(kDir + "/tiny_cifar10");
    Model model = Model::load(kDir + "/tiny_cifar10_model.pt", {.device = device(), .quiet = true});
    InputSpec spec = resolve_input_spec(model.info(), ds->info(), {});
    std::string layer = model.resolve_layer("", spec);
};

/// The images as model input (to_input), and their labels.
std::vector<float> inputs(const Fixture& f, const std::vector<std::size_t>& idx, std::vector<int>& labels) {
    const std::size_t per = static_cast<std::size_t>(f.spec.channels) * f.spec.height * f.spec.width;
    std::vector<float> x(per * idx.size());
    labels.clear();
    for (std::size_t i = 0; i < idx.size(); ++i) {
        const Sample s = f.ds->get(idx[i]);
        labels.push_back(s.label);
        to_input(s.image, f.spec, x.data() + i * per);
    }
    return x;
}

/// All batches of a job, in order.
std::vector<CamBatch> batches(Fixture& f, const CamImages& images, const CamJob& job) {
    std::vector<CamBatch> out;
    run_cam_job(f.model, images, f.spec, job, [&](CamBatch& b) { out.push_back(std::move(b)); });
    return out;
}

/// Rows [begin, begin + n) of each of `slots` slot-major blocks of `per_slot` rows of `size` values.
std::vector<float> rows(const std::vector<float>& v, int slots, std::size_t per_slot, std::size_t begin, std::size_t n,
                        std::size_t size) {
    std::vector<float> out;
    for (int s = 0; s < slots; ++s)
        out.insert(out.end(), v.begin() + static_cast<long>((s * per_slot + begin) * size),
                   v.begin() + static_cast<long>((s * per_slot + begin + n) * size));
    return out;
}

bool blank(const float* m, std::size_t size) {  // no value above 0, or all equal (the engine's maps: all 0)
    float mx = m[0], mn = m[0];
    for (std::size_t k = 0; k < size; ++k) mx = std::max(mx, m[k]), mn = std::min(mn, m[k]);
    return !(mx > 0) || mx == mn;
}

}  // namespace

TEST(CamJob, SlotsPredTrueAndIndexEqualTheEngineCalledDirectly) {
    Fixture f;
    const std::vector<std::size_t> idx{0, 3, 4, 7, 9};
    std::vector<int> labels;
    const auto x = inputs(f, idx, labels);
    const int n = static_cast<int>(idx.size()), K = 10, H = f.spec.height, W = f.spec.width;

    CamRequest req;  // the reference: one run over the five images, the slots spelled out
    req.layers = {f.layer};
    req.also_raw = true;
    req.targets = {std::vector<int>(n, -1), labels, std::vector<int>(n, 3)};
    const BatchResult ref = f.model.run(x.data(), n, f.spec, &req);
    ASSERT_EQ(ref.num_classes, K);
    const auto up = cams_at_input_size(ref.cams.data(), 3 * n, ref.fh, ref.fw, H, W);
    const auto raw = upsample_cams(ref.raw_cams.data(), 3 * n, ref.fh, ref.fw, H, W);

    CamJob job;
    job.cam.layers = {f.layer};
    job.targets = {{{ClassRef::Pred, -1}}, {{ClassRef::True, -1}}, {{ClassRef::Index, 3}}};
    job.raw = true;
    job.batch_size = 2;  // batches of 2, 2 and 1
    const auto got = batches(f, dataset_images(*f.ds, idx), job);
    ASSERT_EQ(got.size(), 3u);
    const std::size_t fhw = static_cast<std::size_t>(ref.fh) * ref.fw, hw = static_cast<std::size_t>(H) * W;
    for (const auto& b : got) {
        SCOPED_TRACE("batch at " + std::to_string(b.start));
        ASSERT_EQ(b.slots, 3);
        ASSERT_EQ(b.samples.size(), static_cast<std::size_t>(b.n));
        EXPECT_EQ(b.fh, ref.fh);
        EXPECT_EQ(b.fw, ref.fw);
        EXPECT_LT(max_abs_diff(b.logits, std::vector<float>(ref.logits.begin() + b.start * K,
                                                             ref.logits.begin() + (b.start + b.n) * K)),
                  kTol);
        EXPECT_LT(max_abs_diff(b.maps, rows(ref.cams, 3, n, b.start, b.n, fhw)), kTol);
        EXPECT_LT(max_abs_diff(b.at_input, rows(up, 3, n, b.start, b.n, hw)), kTol);
        EXPECT_LT(max_abs_diff(b.raw_at_input, rows(raw, 3, n, b.start, b.n, hw)), 10 * kTol);
        for (int i = 0; i < b.n; ++i) {
            const std::size_t j = b.start + i;
            const float* l = ref.logits.data() + j * K;
            int top = 0;
            double z = 0;
            for (int c = 0; c < K; ++c) {
                if (l[c] > l[top]) top = c;
                z += std::exp(double(l[c]) - l[0]);
            }
            EXPECT_EQ(b.labels[i], labels[j]);
            EXPECT_EQ(b.samples[i].label, labels[j]);
            EXPECT_EQ(b.preds[i], top);
            EXPECT_NEAR(b.probs[i * K + top], std::exp(double(l[top]) - l[0]) / z, kTol);
            EXPECT_EQ(b.targets[0][i], top) << "pred: the prediction of this forward";
            EXPECT_EQ(b.targets[1][i], labels[j]) << "true: the label";
            EXPECT_EQ(b.targets[2][i], 3);
            for (int s = 0; s < 3; ++s)
                EXPECT_EQ(b.blank(s, i), blank(ref.cams.data() + (s * n + j) * fhw, fhw)) << "slot " << s << " image " << j;
            EXPECT_EQ(b.map(2, i)[0], b.maps[(2 * b.n + i) * fhw]);
            EXPECT_EQ(b.map_at_input(1, i)[5], b.at_input[(b.n + i) * hw + 5]);
        }
    }

    // cam_maps: the same job collected slot-major over all images; raw: the unnormalised maps.
    const CamMaps all = cam_maps(f.model, dataset_images(*f.ds, idx), f.spec, job);
    EXPECT_EQ(all.n, idx.size());
    EXPECT_EQ(all.slots, 3);
    EXPECT_EQ(all.num_classes, K);
    EXPECT_EQ(all.labels, labels);
    EXPECT_LT(max_abs_diff(all.maps, raw), 10 * kTol);
    EXPECT_LT(max_abs_diff(all.logits, ref.logits), kTol);
    job.raw = false;
    EXPECT_LT(max_abs_diff(cam_maps(f.model, dataset_images(*f.ds, idx), f.spec, job).maps, up), kTol);
}

TEST(CamJob, FinerCamContrastTrueIsEachImagesLabel) {
    Fixture f;
    const std::vector<std::size_t> idx{1, 2, 5, 6, 8, 11};
    std::vector<int> labels;
    const auto x = inputs(f, idx, labels);
    const int n = static_cast<int>(idx.size()), H = f.spec.height, W = f.spec.width;

    CamRequest req;  // contrast = {label_i, 2} per image, alpha 0.5, the target the prediction
    req.method = "finercam";
    req.alpha = 0.5;
    req.layers = {f.layer};
    req.targets = {std::vector<int>(n, -1)};
    for (int l : labels) req.contrast.push_back({l, 2});
    const BatchResult ref = f.model.run(x.data(), n, f.spec, &req);
    const auto up = cams_at_input_size(ref.cams.data(), n, ref.fh, ref.fw, H, W);

    CamJob job;
    job.cam.method = "finercam";
    job.cam.alpha = 0.5;
    job.cam.layers = {f.layer};
    job.targets = {{{ClassRef::Pred, -1}}};
    job.contrast = {{{ClassRef::True, -1}, {ClassRef::Index, 2}}};
    job.batch_size = 4;
    const CamMaps got = cam_maps(f.model, dataset_images(*f.ds, idx), f.spec, job);
    EXPECT_LT(max_abs_diff(got.maps, up), kTol);

    // The comparison matters: without it (the 3 closest classes) the maps differ.
    job.contrast.clear();
    EXPECT_GT(max_abs_diff(cam_maps(f.model, dataset_images(*f.ds, idx), f.spec, job).maps, up), 1e-3);

    // Prepared input: a class per image in the slot, a contrast list per image.
    CamRequest per;
    per.method = "finercam";
    per.layers = {f.layer};
    per.targets = {{0, 1, 2, 3, 4, 5}};
    per.contrast = {{9}, {8}, {7}, {6}, {5, 1}, {4}};
    const BatchResult ref2 = f.model.run(x.data(), n, f.spec, &per);
    CamJob job2;
    job2.cam.method = "finercam";
    job2.cam.layers = {f.layer};
    job2.targets.emplace_back();
    for (int t : per.targets[0]) job2.targets[0].push_back({ClassRef::Index, t});
    for (const auto& row : per.contrast) {
        job2.contrast.emplace_back();
        for (int c : row) job2.contrast.back().push_back({ClassRef::Index, c});
    }
    job2.batch_size = 4;
    const CamMaps got2 = cam_maps(f.model, prepared_input(x.data(), idx.size()), f.spec, job2);
    EXPECT_LT(max_abs_diff(got2.maps, cams_at_input_size(ref2.cams.data(), n, ref2.fh, ref2.fw, H, W)), kTol);
    EXPECT_EQ(got2.labels, std::vector<int>(n, -1)) << "prepared input has no labels";
}

TEST(CamJob, RefusesWhatItCannotDoBeforeAnyWork) {
    Fixture f;
    std::vector<int> labels;
    const auto x = inputs(f, {0, 1}, labels);
    CamJob job;
    job.cam.layers = {f.layer};
    job.targets = {{{ClassRef::True, -1}}};
    int called = 0;
    const auto count = [&](CamBatch&) { ++called; };
    // No labels for "true" in prepared input.
    EXPECT_THROW(run_cam_job(f.model, prepared_input(x.data(), 2), f.spec, job, count), UsageError);
    // A slot of 3 classes for 2 images.
    job.targets = {{{ClassRef::Index, 1}, {ClassRef::Index, 2}, {ClassRef::Index, 3}}};
    EXPECT_THROW(run_cam_job(f.model, prepared_input(x.data(), 2), f.spec, job, count), UsageError);
    // A contrast for another method than finercam; 'pred' as a comparison class.
    job.targets = {{{ClassRef::Pred, -1}}};
    job.contrast = {{{ClassRef::Index, 1}}};
    EXPECT_THROW(run_cam_job(f.model, prepared_input(x.data(), 2), f.spec, job, count), UsageError);
    job.cam.method = "finercam";
    job.contrast = {{{ClassRef::Pred, -1}}};
    EXPECT_THROW(run_cam_job(f.model, prepared_input(x.data(), 2), f.spec, job, count), UsageError);
    job.contrast.clear();
    job.batch_size = 0;
    EXPECT_THROW(run_cam_job(f.model, prepared_input(x.data(), 2), f.spec, job, count), UsageError);
    try {
        dataset_images(*f.ds, {0, 200});
        ADD_FAILURE() << "an index past the dataset";
    } catch (const UsageError& e) {
        EXPECT_STREQ(e.what(), "image index 200 out of range: the dataset has 200 images");
    }
    EXPECT_EQ(called, 0);

    // No images: no batch, and the class count still known.
    job.batch_size = 8;
    const auto none = run_cam_job(f.model, prepared_input(nullptr, 0), f.spec, job, count);
    EXPECT_EQ(none.images, 0u);
    EXPECT_EQ(none.num_classes, 10);
    EXPECT_EQ(called, 0);
}

TEST(CamJob, APerturbationMethodsProgressMayStopTheJob) {
    Fixture f;
    struct Stop {};
    CamJob job;
    job.cam.method = "scorecam";
    job.cam.max_channels = 8;
    job.cam.layers = {f.layer};
    job.targets = {{{ClassRef::Pred, -1}}};
    job.batch_size = 2;  // 2 perturbed rows per forward: several progress calls per map
    long long calls = 0;
    job.on_forwards = [&](long long done, long long total) {
        EXPECT_LE(done, total);
        if (++calls == 2) throw Stop{};
    };
    int batches_seen = 0;
    EXPECT_THROW(run_cam_job(f.model, dataset_images(*f.ds, {0, 1, 2}), f.spec, job,
                             [&](CamBatch&) { ++batches_seen; }),
                 Stop);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(batches_seen, 0);
}
