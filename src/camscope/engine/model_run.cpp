// Model::run: batched prediction and the CAM pipeline (the methods in cam/, augmentation
// smoothing, maps at the input size).
#include <algorithm>

#include "camscope/engine/cam/cam_method.hpp"
#include "camscope/engine/model_impl.hpp"

namespace camscope {

namespace {

/// ReLU and per-image min-max (cam -= min; cam /= max + 1e-7), as pytorch-grad-cam's
/// scale_cam_image; a constant map becomes all zeros. cams: n×h×w.
torch::Tensor relu_minmax(torch::Tensor cams) {
    cams = torch::relu(cams);
    const auto flat = cams.flatten(1);
    const auto mn = std::get<0>(flat.min(1)).view({-1, 1, 1});
    cams = cams - mn;
    const auto mx = std::get<0>(cams.flatten(1).max(1)).view({-1, 1, 1});
    return cams / (mx + 1e-7);
}

/// S×n×h×w maps at H×W: bilinear with half-pixel centres (cv2.resize INTER_LINEAR), then, when
/// `scale`, ReLU + min-max per map at that size (pytorch-grad-cam's aggregate_multi_layers).
torch::Tensor to_input_size(const torch::Tensor& maps, int64_t h, int64_t w, bool scale) {
    if (maps.size(2) == h && maps.size(3) == w) return maps;
    const auto s = maps.size(0), n = maps.size(1);
    auto up = torch::upsample_bilinear2d(maps.reshape({s * n, 1, maps.size(2), maps.size(3)}), {h, w}, false);
    up = up.reshape({s * n, h, w});
    if (scale) up = relu_minmax(up);
    return up.reshape({s, n, h, w});
}

}  // namespace

namespace {

/// The augmentations of --aug-smooth: horizontal flip × brightness factor (identity first).
struct Augmentation {
    bool flip;
    double factor;
};
constexpr Augmentation kAugmentations[] = {{false, 1.0}, {false, 0.9}, {false, 1.1},
                                           {true, 1.0},  {true, 0.9},  {true, 1.1}};

}  // namespace

struct ModelAccess {
    /// Maps S×n×h'×w' for one (possibly augmented) input: probe forward, one backward per slot when
    /// the method needs gradients, per-layer terms → raw map → scaling → layer fusion.
    /// Targets of −1 become `pred`, which is set from this forward's logits if undefined.
    /// Returns the logits and the maps (and the unscaled maps with `also_raw`).
    struct Maps {
        torch::Tensor logits, maps, raw;  // n×K, S×n×h'×w', raw maps when also_raw
    };
    static Maps maps(Model::Impl& im, const torch::Tensor& x,
                                                        const CamRequest& req, const engine::CamMethod& method,
                                                        const InputSpec& spec, torch::Tensor& pred) {
        const bool grad = method.needs_gradients;
        const engine::RowName name = [&req](int64_t r) { return Model::Impl::image_name(&req, r); };
        std::optional<torch::NoGradGuard> ng;
        if (!grad) ng.emplace();
        torch::Tensor logits;
        std::vector<torch::Tensor> acts;
        // One layer: the split forward (optimised head, autograd tail) once the plain probe has run
        // once for it (the first call validates the input on the plain module, whose errors are
        // clean; an optimised convolution can crash on a wrong channel count). The validation
        // runs on the batch's first image only and the batch itself goes through the split, so an
        // image's numbers do not depend on whether its batch came first in the process (a shard
        // of `analyze --shard` gives the bits a single process gives).
        Model::Impl::Split* sp = nullptr;
        if (req.layers.size() == 1) {
            if (!im.probed.count(req.layers[0])) {
                auto out = im.probe(req.layers, grad)(im.module, {x.narrow(0, 0, 1)}).toTuple()->elements();
                engine::logits_of(out[0], im.info, 1, name);
                im.probed.insert(req.layers[0]);
            }
            sp = im.split(req.layers[0]);
        }
        if (sp) {
            std::vector<c10::IValue> head;
            {
                torch::NoGradGuard head_ng;
                head = sp->head.get_method("camscope_head")({x}).toTuple()->elements();
            }
            auto a = head.at(0).toTensor();
            if (grad) a = a.detach().requires_grad_(true);
            std::vector<c10::IValue> in{x, a};
            for (size_t i = 1; i < head.size(); ++i) in.push_back(head[i]);
            logits = engine::logits_of((*sp->tail)(im.module, std::move(in)), im.info, x.size(0), name);
            acts.push_back(a);
        } else {
            auto& runner = im.probe(req.layers, grad);
            auto out = runner(im.module, {x}).toTuple()->elements();
            logits = engine::logits_of(out[0], im.info, x.size(0), name);
            for (size_t l = 1; l < out.size(); ++l) acts.push_back(out[l].toTensor());
            if (req.layers.size() == 1) im.probed.insert(req.layers[0]);
        }
        const int64_t k = logits.size(1);
        if (!pred.defined()) pred = logits.argmax(1).detach();
        std::vector<torch::Tensor> targets;
        for (const auto& t : req.targets) {
            auto tt = torch::tensor(std::vector<int64_t>(t.begin(), t.end()), torch::kInt64).to(im.device);
            if ((tt >= k).any().item<bool>())
                throw UsageError("target class out of range: the model has " + std::to_string(k) + " classes");
            targets.push_back(torch::where(tt < 0, pred, tt));
        }
        torch::Tensor contrast;  // n×M, −1 padded (Finer-CAM's comparison classes)
        if (method.score && !req.contrast.empty()) {
            const int64_t n = x.size(0);
            if (req.contrast.size() != 1 && static_cast<int64_t>(req.contrast.size()) != n)
                throw UsageError("CamRequest: " + std::to_string(req.contrast.size()) +
                                 " contrast lists for " + std::to_string(n) + " images (expected 1 or one per image)");
            size_t m = 0;
            for (const auto& c : req.contrast) m = std::max(m, c.size());
            std::vector<int64_t> flat(static_cast<size_t>(n) * m, -1);
            for (int64_t i = 0; i < n; ++i) {
                const auto& c = req.contrast[req.contrast.size() == 1 ? 0 : i];
                for (size_t j = 0; j < c.size(); ++j) {
                    if (c[j] < 0 || c[j] >= k)
                        throw UsageError("contrast class " + std::to_string(c[j]) + " out of range: the model has " +
                                         std::to_string(k) + " classes");
                    flat[static_cast<size_t>(i) * m + j] = c[j];
                }
            }
            if (m > 0)
                contrast = torch::tensor(flat, torch::kInt64).view({n, static_cast<int64_t>(m)}).to(im.device);
        }
        std::vector<torch::Tensor> slot_maps, raw_maps;
        for (size_t s = 0; s < targets.size(); ++s) {
            // A slot whose targets equal an earlier slot's (analyze's true class of correctly
            // predicted images: at batch 1, most calls) has that slot's maps: the same score, the
            // same gradients, the same bits. Its backward is skipped.
            size_t same = s;
            for (size_t e = 0; e < s && same == s; ++e)
                if (torch::equal(targets[e], targets[s])) same = e;
            if (same != s) {
                slot_maps.push_back(slot_maps[same]);
                if (req.also_raw) raw_maps.push_back(raw_maps[same]);
                continue;
            }
            // retain_graph while a later slot may still need a backward.
            std::vector<torch::Tensor> grads(acts.size());
            if (grad) {
                auto score = method.score ? method.score({logits, targets[s], contrast, req.alpha}).sum()
                                          : logits.gather(1, targets[s].unsqueeze(1)).sum();
                grads = torch::autograd::grad({score}, acts, {}, /*retain_graph=*/s + 1 < targets.size());
            }
            torch::NoGradGuard inner;
            std::vector<torch::Tensor> per_layer;
            for (size_t l = 0; l < acts.size(); ++l) {
                const Layout& lay = im.layout_of(req.layers[l], acts[l].sizes().vec(), spec.height, spec.width);
                engine::CamContext ctx;
                ctx.input = x;
                ctx.activations = engine::to_nchw(acts[l].detach(), lay);
                ctx.gradients = grad ? engine::to_nchw(grads[l], lay) : torch::Tensor();
                ctx.logits = logits.detach();
                ctx.targets = targets[s];
                ctx.max_channels = req.max_channels;
                ctx.batch_size = std::max(1, req.perturb_batch);
                // The perturbed forwards name their rows by image and channel.
                auto perturbed = [&name](const torch::Tensor& img, const torch::Tensor& ch, const char* how) {
                    return engine::RowName([&name, img, ch, how](int64_t r) {
                        return name(img[r].item<int64_t>()) + " with channel " + std::to_string(ch[r].item<int64_t>()) + how;
                    });
                };
                ctx.score_inputs = [&im, perturbed](const torch::Tensor& xi, const torch::Tensor& img, const torch::Tensor& ch) {
                    return im.forward_fast(xi, perturbed(img, ch, " as the input's mask"));
                };
                const std::string layer = req.layers[l];
                // Ablation in the model's own layout: channel k of the output zeroed at every
                // position (every token, the prefix tokens included, as AblationLayerVit does).
                ctx.score_ablated = [&im, &x, layer, &lay, perturbed, out = acts[l].detach()](const torch::Tensor& img,
                                                                                             const torch::Tensor& ch) {
                    auto a = out.index_select(0, img).clone();
                    engine::zero_channels(a, ch, lay);
                    auto& r = im.replacer(layer);
                    return engine::logits_of(r(im.module, {x.index_select(0, img), a}), im.info, img.size(0),
                                             perturbed(img, ch, " ablated"));
                };
                if (req.on_progress) ctx.progress = [&req](int64_t d, int64_t t) { req.on_progress(d, t); };
                const auto terms = method.compute(ctx).to(torch::kFloat32);
                per_layer.push_back(method.project || req.eigen_smooth ? engine::eigen_projection(terms)
                                                                       : terms.sum(1));
            }
            slot_maps.push_back(fuse(per_layer, !req.raw, spec));
            if (req.also_raw) raw_maps.push_back(fuse(per_layer, false, spec));
        }
        auto stack = [](const std::vector<torch::Tensor>& v) { return v.empty() ? torch::Tensor() : torch::stack(v); };
        return {logits.detach(), stack(slot_maps), stack(raw_maps)};
    }

    /// One layer: its map, scaled unless `!scale`. Several layers: each (scaled) map upsampled to
    /// the input size, mean, rescaled.
    static torch::Tensor fuse(const std::vector<torch::Tensor>& per_layer, bool scale, const InputSpec& spec) {
        if (per_layer.size() == 1) {
            if (!scale) return per_layer[0];
            auto m = relu_minmax(per_layer[0]);
            // A layer at the input's own resolution: the resize is the identity, so this map is
            // already the final one and gets aggregate_multi_layers' second scaling here (it moves
            // maps of a tiny range by up to 1e-7/range). Every map at the input size is final.
            if (m.size(1) == spec.height && m.size(2) == spec.width) m = relu_minmax(m);
            return m;
        }
        std::vector<torch::Tensor> up;
        for (const auto& p : per_layer) {
            auto scaled = scale ? relu_minmax(p) : p;
            up.push_back(torch::upsample_bilinear2d(scaled.unsqueeze(1), {spec.height, spec.width}, false).squeeze(1));
        }
        auto m = torch::stack(up).mean(0);
        return scale ? relu_minmax(m) : m;
    }
};

namespace {

/// A NaN or infinite map (finite logits, but NaN gradients from the model's backward) must not
/// pass for a CAM: min-max scaling keeps NaN, and the report would show it as a map. Names the
/// first such map's image (its dataset index when the caller gave CamRequest::image_ids) and layer.
void check_finite_maps(const std::string& model_path, const torch::Tensor& maps, const CamRequest& req, bool gradients,
                       const torch::Tensor& pred, const char* which) {
    if (!maps.defined() || maps.numel() == 0 || torch::isfinite(maps).all().item<bool>()) return;
    const auto bad = torch::nonzero(torch::isfinite(maps).flatten(2).all(2).logical_not())[0];  // (slot, row)
    const auto slot = bad[0].item<int64_t>(), row = bad[1].item<int64_t>();
    const int target = req.targets[slot][row] >= 0 ? req.targets[slot][row] : static_cast<int>(pred[row].item<int64_t>());
    const std::string image = row < static_cast<int64_t>(req.image_ids.size())
                                  ? "image " + std::to_string(req.image_ids[row])
                                  : "batch row " + std::to_string(row);
    throw Error(model_path + ": the " + req.method + which + " CAM of " + image + " (target class " +
                std::to_string(target) + ") at layer '" + join(req.layers, "+") + "' is NaN or infinite, though the logits are finite: " +
                (gradients ? "the model's backward gives non-finite gradients there"
                           : "the layer's activations or the perturbed scores are not finite"));
}

/// What to do about torch's "derivative for aten::X is not implemented" from the CAMs' backward:
/// the model file records an operation without a backward. The one seen in practice is
/// nn.MultiheadAttention's inference fast path (aten::_native_multi_head_attention, and
/// aten::_transformer_encoder_layer_fwd of nn.TransformerEncoderLayer), which torch takes when the
/// module was traced under torch.no_grad() / torch.inference_mode(). Empty for other errors.
std::string backward_hint(const std::string& what) {
    if (what.find("derivative for") == std::string::npos || what.find("not implemented") == std::string::npos)
        return "";
    if (what.find("_native_multi_head_attention") != std::string::npos ||
        what.find("_transformer_encoder_layer_fwd") != std::string::npos)
        return " (this is the inference fast path of nn.MultiheadAttention / nn.TransformerEncoderLayer, which "
               "has no backward: torch records it when the model is traced under torch.no_grad() or "
               "torch.inference_mode(); re-trace the model with gradients enabled and an example input that "
               "requires grad, e.g. torch.jit.trace(model.eval(), x.clone().requires_grad_()), or load the live "
               "module with camscope.Model.from_torch, which does)";
    return " (the model file records an operation without a backward, so CAM methods that need gradients cannot "
           "run through it; a model traced under torch.no_grad() may record inference-only operations: re-trace "
           "it with gradients enabled, or use a gradient-free method: eigencam, scorecam, ablationcam)";
}

}  // namespace

BatchResult Model::run(const float* data, int n, const InputSpec& spec, const CamRequest* req) {
    // Grad mode and inference mode are thread-local and the caller's (a Python caller inside
    // torch.no_grad() / inference_mode() / set_grad_enabled(False) shares this libtorch): the CAMs'
    // backward needs autograd on. InferenceMode(false) also turns grad mode on (c10/core/
    // InferenceMode.h); the forwards that need none disable it below. Restored on return.
    c10::InferenceMode autograd_on(false);
    std::lock_guard lock(impl_->mu);
    auto& im = *impl_;
    BatchResult res;
    res.n = n;
    auto x = torch::from_blob(const_cast<float*>(data), {n, spec.channels, spec.height, spec.width}, torch::kFloat32)
                 .to(im.device);
    try {
        const engine::RowName name = [req](int64_t r) { return Model::Impl::image_name(req, r); };
        // Before any forward: the optimised forwards (prediction, the CAMs' split head) can turn a
        // NaN image into finite logits, which no check of the logits can then see.
        engine::check_finite_input(x, im.info.path, name);
        if (!req) {
            auto logits = im.forward_fast(x, name);
            res.num_classes = static_cast<int>(logits.size(1));
            engine::copy_out(logits, res.logits);
            return res;
        }
        const auto& method = engine::find_cam_method(req->method);
        if (req->layers.empty()) throw UsageError("CamRequest without a target layer (resolve_layer first)");
        for (size_t s = 0; s < req->targets.size(); ++s)
            if (static_cast<int>(req->targets[s].size()) != n)
                throw UsageError("CamRequest slot " + std::to_string(s) + " has " +
                                 std::to_string(req->targets[s].size()) + " targets for " + std::to_string(n) +
                                 " images");
        // Targets of −1 are the prediction on the original input (the first augmentation is the
        // identity): all augmented maps explain the same class.
        torch::Tensor logits, maps, raw, pred;
        if (!req->aug_smooth) {
            auto r = ModelAccess::maps(im, x, *req, method, spec, pred);
            logits = r.logits;
            maps = r.maps;
            raw = r.raw;
        } else {
            for (const auto& aug : kAugmentations) {
                torch::Tensor xa;
                {
                    torch::NoGradGuard ng;
                    xa = aug.factor == 1.0 ? x : x * aug.factor;
                    if (aug.flip) xa = xa.flip(-1);
                }
                auto r = ModelAccess::maps(im, xa, *req, method, spec, pred);
                // pytorch-grad-cam's forward_augmentation_smoothing averages what forward() returns
                // for each augmentation: maps already at the input size and scaled there.
                if (r.maps.defined()) r.maps = to_input_size(r.maps, spec.height, spec.width, !req->raw);
                if (r.raw.defined()) r.raw = to_input_size(r.raw, spec.height, spec.width, false);
                if (aug.flip) {
                    if (r.maps.defined()) r.maps = r.maps.flip(-1);
                    if (r.raw.defined()) r.raw = r.raw.flip(-1);
                }
                if (!logits.defined()) {
                    logits = r.logits;
                    maps = r.maps;
                    raw = r.raw;
                } else {
                    if (r.maps.defined()) maps = maps + r.maps;
                    if (r.raw.defined()) raw = raw + r.raw;
                }
            }
            const double count = static_cast<double>(std::size(kAugmentations));
            if (maps.defined()) maps = maps / count;
            if (raw.defined()) raw = raw / count;
        }
        res.num_classes = static_cast<int>(logits.size(1));
        res.slots = static_cast<int>(req->targets.size());
        check_finite_maps(im.info.path, maps, *req, method.needs_gradients, pred, "");
        if (raw.defined()) check_finite_maps(im.info.path, raw, *req, method.needs_gradients, pred, " (unnormalised)");
        if (res.slots) {
            res.fh = static_cast<int>(maps.size(2));
            res.fw = static_cast<int>(maps.size(3));
            engine::copy_out(maps, res.cams);
            if (raw.defined()) engine::copy_out(raw, res.raw_cams);
        }
        engine::copy_out(logits, res.logits);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {  // c10::Error, or torch::jit::JITException from the forward
        const std::string what = first_line(e.what());
        throw Error(im.info.path + ": " + what + (req ? backward_hint(what) : ""));
    }
    return res;
}

std::vector<std::string> cam_methods() {
    std::vector<std::string> out;
    for (const auto& m : engine::cam_registry()) out.push_back(m.name);
    return out;
}

}  // namespace camscope
