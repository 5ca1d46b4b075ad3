// camscope evaluate-cams: how faithful is each CAM method on this model?
#include <algorithm>
#include <cstdio>

#include "camscope/faith/summary.hpp"
#include "camscope/pipeline/evaluate.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"
#include "common.hpp"

namespace camscope::cli {

void register_evaluate(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "evaluate-cams",
        "CAM faithfulness: Average Drop / Increase in Confidence, Deletion and Insertion AUC, ROAD (MoRF/LeRF) per "
        "CAM method; writes faithfulness.csv, .json and .png and names the best method");
    auto run = std::make_shared<ModelRunFlags>();
    auto out = std::make_shared<std::string>("camscope-faithfulness");
    auto methods = std::make_shared<std::vector<std::string>>();
    auto layers = std::make_shared<std::vector<std::string>>();
    auto metrics = std::make_shared<std::vector<std::string>>();
    auto opt = std::make_shared<EvaluateOptions>();
    auto cam_flags = std::make_shared<CamOptionFlags>();
    run->add(*cmd);
    cmd->add_option("--out,-o", *out, "output folder")->capture_default_str();
    cmd->add_option("--methods", *methods,
                    "CAM methods, comma-separated or repeated (registered: " + join(cam_methods(), ", ") +
                        "). Default: all except scorecam and ablationcam, which run one forward pass per channel "
                        "and are slow; name them here to include them")
        ->delimiter(',');
    cmd->add_option(
           "--n", opt->n,
           "images to evaluate, spread evenly over the dataset (index floor(j*size/n)); 0 = all. Runtime "
           "grows linearly: each image costs 2 + 2*steps + 2*percentiles forward passes per method (52 by default)")
        ->capture_default_str()
        ->check(non_negative());
    cmd->add_option("--layer,-l", *layers, "target layer path, e.g. layer4 (default: automatic); repeatable");
    cam_flags->add(*cmd);
    cmd->add_option("--steps", opt->params.steps, "deletion/insertion steps (pixels changed per step: H*W/steps)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    cmd->add_option("--percentiles", opt->params.road_percentiles,
                    "ROAD removal percentiles, comma-separated (default 10,20,...,90)")
        ->delimiter(',')
        ->check(number_in(0, 100, "0..100"));
    cmd->add_option("--blur-sigma", opt->params.blur_sigma,
                    "insertion baseline: Gaussian blur sigma in pixels (0 = max(H,W)/16)")
        ->capture_default_str()
        ->check(non_negative());
    cmd->add_option("--noise", opt->params.road_noise, "ROAD imputation noise std (normalised units)")
        ->capture_default_str()
        ->check(non_negative());
    cmd->add_option("--seed", opt->params.seed, "seed of the ROAD imputation noise")->capture_default_str();
    cmd->add_option("--metrics", *metrics,
                    "metrics to compute, comma-separated: drop (Average Drop + Increase in Confidence), deletion, "
                    "insertion, road (default: all)")
        ->delimiter(',')
        ->check(CLI::IsMember({"drop", "deletion", "insertion", "road"}));
    cmd->footer(
        "Target = the model's predicted class on the clean image; scores are its softmax probability.\n"
        "Average Drop = mean max(0, p - p_cam)/p x 100 (p_cam: input x CAM), lower is better; Increase in Confidence = "
        "% of images with p_cam > p.\n"
        "Deletion/Insertion AUC: pixels removed (set to the mean colour) / restored into a blurred copy in CAM order; "
        "lower deletion, higher insertion is better.\n"
        "ROAD: remove the p% most (MoRF, lower is better) / least (LeRF, higher is better) relevant pixels, re-impute "
        "them with the noisy linear imputer; combined = (LeRF - MoRF)/2.\n"
        "Best method: lowest mean rank over Average Drop, Increase in Confidence, Deletion AUC, Insertion AUC and ROAD "
        "combined.");
    cmd->callback([=] {
        EvaluateOptions o = *opt;
        o.methods = methods->empty() ? default_faithfulness_methods() : *methods;
        check_cam_methods(o.methods);  // before loading anything: a typo is a usage error (exit 2)
        if (!metrics->empty()) {
            auto has = [&](const char* k) { return std::find(metrics->begin(), metrics->end(), k) != metrics->end(); };
            o.params.cam_mult = has("drop");
            o.params.deletion = has("deletion");
            o.params.insertion = has("insertion");
            o.params.road = has("road");
        }
        o.params.validate();
        auto [ds, m, s] = open_model_run(*run);
        for (const auto& l : *layers) o.layers.push_back(m.resolve_layer(l, s));
        o.batch_size = run->eng.batch_size;
        o.cam_options = cam_flags->cam;
        o.progress = !g_quiet;
        if (!g_quiet) {
            const size_t n = spread_indices(ds->size(), o.n).size();
            fprintf(stderr, "%s: %zu of %zu images, methods %s\n", run->data.path.c_str(), n, ds->size(),
                    join(o.methods, ", ").c_str());
        }
        faith::Summary sum = evaluate_cams(m, *ds, s, class_names(m, *ds), o);
        sum.dataset_path = run->data.path;
        sum.model_path = run->model;
        make_dirs(*out);
        write_file_atomic(*out + "/faithfulness.csv", faith::summary_csv(sum));
        write_file_atomic(*out + "/faithfulness.png", faith::summary_png(sum));
        write_file_atomic(*out + "/faithfulness.json", faith::summary_json(sum));
        printf("%s", faith::summary_table(sum).c_str());
        printf("%s\n", faith::headline(sum).c_str());
        if (!sum.best_reason.empty()) printf("why: %s\n", sum.best_reason.c_str());
        printf("wrote %s/faithfulness.csv, faithfulness.json, faithfulness.png (%.1f s, layer %s)\n", out->c_str(),
               sum.seconds, sum.layer.c_str());
    });
}

}  // namespace camscope::cli
