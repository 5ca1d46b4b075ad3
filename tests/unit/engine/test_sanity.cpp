// The sanity gate (pipeline/sanity.hpp, engine/sanity.cpp; Adebayo et al. 2018): a model built so
// that its Grad-CAM maps at a layer cannot depend on the weights above it or on the class
// (tests/fixtures/make_sanity_fixtures.py: one channel at the layer, a head that only scales it) is
// flagged; the trained tiny CIFAR-10 model passes; randomised copies leave the loaded model as it is.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/pipeline/pipeline.hpp"
#include "camscope/pipeline/sanity.hpp"
#include "camscope/report/report.hpp"

using namespace camscope;

namespace {

const std::string kDir = CAMSCOPE_FIXTURES_DIR;

struct Loaded {
    std::unique_ptr<Dataset> ds = open_dataset(kDir + "/tiny_cifar10");
    Model model;
    InputSpec spec;
    explicit Loaded(const std::string& file)
        : model(Model::load(kDir + "/" + file, {.quiet = true})), spec(resolve_input_spec(model.info(), ds->info(), {})) {}

    std::vector<float> inputs(size_t n) const {
        const size_t per = static_cast<size_t>(spec.channels) * spec.height * spec.width;
        std::vector<float> x(per * n);
        for (size_t i = 0; i < n; ++i) to_input(ds->get(i).image, spec, x.data() + i * per);
        return x;
    }

    /// The rows a report of the first n images would hold: index and prediction (the gate's targets).
    Report report(size_t n) {
        const auto x = inputs(n);
        const BatchResult res = model.run(x.data(), static_cast<int>(n), spec);
        Report r;
        r.num_classes = res.num_classes;
        for (size_t i = 0; i < n; ++i) {
            const float* l = res.logits.data() + i * res.num_classes;
            RowRef ref;
            ref.row = i;
            ref.index = static_cast<int>(i);
            ref.label = ds->get(i).label;
            ref.pred = static_cast<int>(std::max_element(l, l + res.num_classes) - l);
            r.rows.push_back(ref);
        }
        return r;
    }
};

CamSettings gradcam(const std::string& layer) {
    CamSettings c;
    c.method = "gradcam";
    c.layers = {layer};
    return c;
}

}  // namespace

TEST(SanityGate, FlagsMapsThatDoNotDependOnTheWeightsAboveTheLayer) {
    Loaded f("sanity_scale_head.pt");
    EXPECT_EQ(f.model.modules_above("features", f.spec), std::vector<std::string>{"head"});
    Report r = f.report(64);
    SanityOptions o;
    o.images = 12;
    const auto s = sanity_gate(r, f.model, *f.ds, f.spec, gradcam("features"), o);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->n, 12);
    ASSERT_EQ(s->cascade.size(), 1u);
    EXPECT_EQ(s->cascade[0].layer, "head");
    EXPECT_EQ(s->cascade[0].modules, 1);
    // The head only scales a one-channel map by |w_c| >= 0: after ReLU and min-max nothing is left of it.
    EXPECT_GT(s->cascade[0].spearman, 0.999);
    EXPECT_GT(s->cascade[0].ssim, 0.999);
    EXPECT_GT(s->random_logit.spearman, 0.999);
    EXPECT_TRUE(s->cascade_fails());
    EXPECT_TRUE(s->logit_fails());
    EXPECT_FALSE(s->passed());
    EXPECT_FALSE(faith::sanity_warning(*s).empty());
}

TEST(SanityGate, PassesTheTrainedModel) {
    Loaded f("tiny_cifar10_model.pt");
    const std::string layer = f.model.resolve_layer("", f.spec);
    Report r = f.report(200);
    SanityOptions o;  // the analysis's defaults: 16 images, threshold 0.5
    const auto s = sanity_gate(r, f.model, *f.ds, f.spec, gradcam(layer), o);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->n, 16);
    ASSERT_FALSE(s->cascade.empty());
    EXPECT_EQ(s->cascade.back().layer, f.model.modules_above(layer, f.spec).back());
    EXPECT_LT(s->cascade.back().spearman, o.threshold);
    EXPECT_LT(s->random_logit.spearman, o.threshold);
    EXPECT_TRUE(s->passed()) << faith::sanity_headline(*s);
    // Seeded: the same sample, classes and weights give the same numbers.
    const auto again = sanity_gate(r, f.model, *f.ds, f.spec, gradcam(layer), o);
    EXPECT_EQ(again->cascade.back().spearman, s->cascade.back().spearman);
    EXPECT_EQ(again->random_logit.ssim, s->random_logit.ssim);
}

TEST(SanityGate, CascadeAtAnEarlierLayerRandomisesEverythingAboveInAtMostMaxSteps) {
    Loaded f("tiny_cifar10_model.pt");
    const auto above = f.model.modules_above("layer2", f.spec);
    ASSERT_GT(above.size(), 4u);
    EXPECT_EQ(above.front(), "fc");  // output end first
    for (const auto& m : above) EXPECT_TRUE(m == "fc" || m.rfind("layer3.", 0) == 0) << m;
    Report r = f.report(64);
    SanityOptions o;
    o.images = 4;
    o.max_steps = 3;
    const auto s = sanity_gate(r, f.model, *f.ds, f.spec, gradcam("layer2"), o);
    ASSERT_TRUE(s);
    ASSERT_EQ(s->cascade.size(), 3u);
    EXPECT_EQ(s->cascade.back().modules, static_cast<int>(above.size()));
    EXPECT_EQ(s->cascade.back().layer, above.back());
    EXPECT_LT(s->cascade.back().spearman, o.threshold);
}

TEST(SanityGate, RandomisedCopiesLeaveTheModelAsItIs) {
    Loaded f("tiny_cifar10_model.pt");
    const auto x = f.inputs(8);
    const auto before = f.model.run(x.data(), 8, f.spec).logits;
    Model a = f.model.randomized({"fc"}, 7);
    Model b = f.model.randomized({"fc"}, 7);
    Model c = f.model.randomized({"fc"}, 8);
    const auto la = a.run(x.data(), 8, f.spec).logits;
    EXPECT_EQ(f.model.run(x.data(), 8, f.spec).logits, before);
    EXPECT_NE(la, before);
    EXPECT_EQ(b.run(x.data(), 8, f.spec).logits, la);  // seeded
    EXPECT_NE(c.run(x.data(), 8, f.spec).logits, la);
    EXPECT_THROW(f.model.randomized({"no.such.module"}, 0), UsageError);
}
