#include "camscope/pipeline/analyze.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "camscope/pipeline/contrast.hpp"
#include "camscope/pipeline/evaluate.hpp"
#include "camscope/pipeline/measure.hpp"
#include "camscope/pipeline/sanity.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/progress.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

namespace fs = std::filesystem;

std::unique_ptr<Dataset> fit_to_model(Model& m, std::unique_ptr<Dataset> ds, const InputSpec& s, bool quiet) {
    ds->set_input_size(s.height, s.width);  // large images (photos in a folder) decode reduced
    ClassMatch match = match_classes(m, *ds, s);
    if (match.to_model.empty()) return ds;
    if (!quiet) fprintf(stderr, "%s\n", match.note.c_str());
    return reorder_classes(std::move(ds), std::move(match.to_model), m.info().class_names);
}

std::string chunk_folder(const std::string& out) {
    fs::path p = fs::path(out).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();
    return p.string() + ".partial";
}

namespace {

// Test hook (tests/cli/test_store.cpp): CAMSCOPE_TEST_KILL_AFTER_CHUNK=<k> kills the process
// (SIGKILL: nothing cleaned up) right after chunk k of the pass is complete, so a test can resume
// from a known point.
void test_kill_after_chunk(size_t chunk) {
    static const char* hook = std::getenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK");
    if (hook && std::to_string(chunk) == hook) ::kill(::getpid(), SIGKILL);
}

bool is_chunk_name(const std::string& name) {
    return name.size() == 12 && name.rfind("chunk-", 0) == 0 &&
           std::all_of(name.begin() + 6, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// The entries of the chunk folder `partial` that camscope wrote (chunk-NNNNNN folders holding
/// only a store's files or their temporary names) and the first entry it did not write, if any.
std::pair<std::vector<fs::path>, std::string> own_chunks(const std::string& partial) {
    std::vector<fs::path> own;
    std::string foreign;
    // "" if camscope wrote entry e, else the path of what it did not write (e, or a file in it).
    auto not_own = [](const fs::directory_entry& e) -> std::string {
        std::error_code ec;
        const std::string name = e.path().filename().string();
        if (parse_temp_name(name)) return "";  // an atomic write of a killed run
        if (!is_chunk_name(name) || e.is_symlink(ec) || !e.is_directory(ec)) return e.path().string();
        for (const auto& f : fs::directory_iterator(e.path(), ec)) {
            const std::string fname = f.path().filename().string();
            if (!(is_store_file_name(fname) || parse_temp_name(fname)) || f.is_symlink(ec) || !f.is_regular_file(ec))
                return f.path().string();
        }
        return ec ? e.path().string() + " (" + ec.message() + ")" : "";
    };
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(partial, ec)) {
        std::string other = not_own(e);
        if (other.empty()) own.push_back(e.path());
        else if (foreign.empty()) foreign = std::move(other);
    }
    if (ec && foreign.empty()) foreign = partial + " (" + ec.message() + ")";
    return {own, foreign};
}

/// Removes the chunks of an earlier pass from `partial` (locked by this run): only what camscope
/// wrote; a folder holding anything else is refused, naming it, before anything is removed.
void clear_chunks(const std::string& partial) {
    const auto [own, foreign] = own_chunks(partial);
    if (!foreign.empty())
        throw Error(where(partial, "holds " + foreign +
                                       ", which camscope did not write; camscope keeps the chunks of an unfinished pass "
                                       "in this folder and removes them when it starts over, so it touches nothing "
                                       "here: move the folder away or choose another --out"));
    for (const auto& p : own) {
        std::error_code ec;
        fs::remove_all(p, ec);
        if (ec) throw Error(where(p.string(), "cannot remove the earlier unfinished pass: " + ec.message()));
    }
}

/// The pass over rows [man.begin, man.end) in chunks of whole batches, each kept as a store of its
/// rows (written to the chunk folder and read back when there is one); with resume, chunks already
/// there (of this very run, else Error) are read instead of computed.
Store chunked_pass(Model& m, const Dataset& ds, const InputSpec& s, const PassOptions& po, const StoreManifest& man,
                   const std::string& model_path, const std::string& data_path, const StoreSettings& st, bool quiet,
                   std::shared_ptr<const FolderLock>& lock) {
    const std::string& partial = st.chunk_dir;
    const size_t bs = static_cast<size_t>(po.batch_size);
    const size_t chunk = std::max<size_t>(1, (st.chunk + bs - 1) / bs) * bs;
    auto chunk_dir = [&](size_t c) { return (fs::path(partial) / format("chunk-%06zu", c)).string(); };
    const size_t chunks = (man.end - man.begin + chunk - 1) / chunk;
    std::vector<Store> parts;
    std::vector<char> have(chunks, 0);
    // A chunk read back (just written, or left by a killed run for --resume) must be this run's
    // rows [b, e) computed with this run's settings.
    auto check_chunk = [&](size_t c, const Store& got) {
        const std::string name = fs::path(chunk_dir(c)).filename().string();
        const auto diff = store_differences(got.manifest, man, {name + " was computed with", "this run uses"});
        const size_t b = man.begin + c * chunk, e = std::min(man.end, b + chunk);
        if (diff.empty() && got.manifest.begin == b && got.manifest.end == e) return;
        std::string msg = chunk_dir(c) + ": this chunk was computed by another run, camscope refuses it";
        for (const auto& d : diff) msg += "\n  " + d;
        if (diff.empty())
            msg += format("\n  rows: %s holds rows %zu..%zu; this run's chunk %zu is rows %zu..%zu (--shard, --chunk)",
                          name.c_str(), got.manifest.begin, got.manifest.end, c, b, e);
        throw Error(msg + "\n(remove " + partial + " or run without --resume to start over)");
    };
    std::error_code ec;
    if (partial.empty()) {
        if (st.resume) throw UsageError("resume needs a chunk folder to resume from");
    } else {
        if (fs::exists(partial, ec) && !fs::is_directory(partial, ec))
            throw Error(where(partial, "is not a folder; camscope keeps the chunks of an unfinished pass here: move it "
                                       "away or choose another --out"));
        lock = std::make_shared<FolderLock>(
            partial, "another camscope run is using this folder for its chunks (the same --out): wait for it to finish, "
                     "or choose another --out");
        const bool existed = !fs::is_empty(partial, ec);
        if (existed && !st.resume) {
            clear_chunks(partial);  // refuses a folder with files camscope did not write
            if (!quiet)
                fprintf(stderr, "note: %s held an earlier unfinished pass; starting over (--resume continues it)\n",
                        partial.c_str());
        } else if (existed) {
            for (size_t c = 0; c < chunks; ++c) {
                if (!is_store(chunk_dir(c))) continue;  // not there, or killed before its manifest
                Store got = read_store(chunk_dir(c));
                check_chunk(c, got);
                have[c] = 1;
                parts.push_back(std::move(got));
            }
            if (!quiet)
                fprintf(stderr, "resuming: %zu of %zu chunks already done in %s\n", parts.size(), chunks, partial.c_str());
        } else if (st.resume && !quiet) {
            fprintf(stderr, "note: --resume: no unfinished pass in %s; starting from the beginning\n", partial.c_str());
        }
    }
    size_t todo = 0;
    for (size_t c = 0; c < chunks; ++c)
        if (!have[c]) todo += std::min(man.end, man.begin + (c + 1) * chunk) - (man.begin + c * chunk);
    Progress bar(po.label, todo, po.progress);
    for (size_t c = 0; c < chunks; ++c) {
        if (have[c]) continue;
        const size_t b = man.begin + c * chunk, e = std::min(man.end, b + chunk);
        PassOptions cpo = po;
        cpo.bar = &bar;
        cpo.only.resize(e - b);
        for (size_t i = 0; i < e - b; ++i) cpo.only[i] = b + i;
        AnalysisInput piece = measure(m, ds, s, cpo, model_path, data_path);
        StoreManifest cm = man;
        cm.seconds = piece.timings.predict_s;
        if (partial.empty()) {
            parts.push_back(store_rows(cm, piece, 0, piece.n));
        } else {
            write_store_files(chunk_dir(c), cm, piece, 0, piece.n);
            test_kill_after_chunk(c);
            parts.push_back(read_store(chunk_dir(c)));  // what a resumed run would read: the same bytes
            check_chunk(c, parts.back());
        }
    }
    bar.finish();
    Store all = combine_stores(std::move(parts), "chunk", {man.begin, man.end});
    all.manifest.shard = man.shard;
    all.manifest.shards = man.shards;
    return all;
}

/// The chunk folder once the run is complete (still locked by it): camscope's chunks go, and the
/// folder with them unless something else is in it (left as it is).
void remove_chunks(const std::string& dir) {
    if (dir.empty()) return;
    std::error_code ec;
    for (const auto& p : own_chunks(dir).first) fs::remove_all(p, ec);
    fs::remove(dir, ec);  // only if empty
}

}  // namespace

Pass analyze_pass(Model& m, const Dataset& ds, const InputSpec& s, const AnalyzeSettings& a, RunIdentity identity,
                  const std::string& model_path, const std::string& data_path) {
    if (a.cam.layers.size() != 1)
        throw UsageError(format("analyze: the CAMs need exactly one resolved layer, got %zu", a.cam.layers.size()));
    identity.cam = a.cam;
    const auto t_load = std::chrono::steady_clock::now();
    const StoreSettings& st = a.store;
    StoreManifest man;
    man.identity = identity;
    man.data_split = st.data_split;
    man.data_format_flag = st.data_format_flag;
    man.batch_size = a.batch_size;
    man.total = a.limit ? std::min(a.limit, ds.size()) : ds.size();
    man.shard = st.shard;
    man.shards = st.shards;
    const size_t batches = (man.total + man.batch_size - 1) / man.batch_size;
    if (st.shards > 1 && static_cast<size_t>(st.shards) > batches)
        throw UsageError(format("--shard %d/%d: the %zu images make %zu batches of %d, too few for %d shards (slices "
                                "are whole batches): use at most %zu shards or a smaller --batch-size",
                                st.shard, st.shards, man.total, batches, man.batch_size, st.shards, batches));
    std::tie(man.begin, man.end) = shard_rows(man.total, man.batch_size, st.shard, st.shards);
    man.model_kind = m.info().kind;
    man.class_names = class_names(m, ds);
    man.coarse_names = ds.info().coarse_names;
    man.fine_to_coarse = ds.info().fine_to_coarse;
    PassOptions po;
    po.batch_size = a.batch_size;
    po.progress = a.progress;
    po.cams = true;
    po.cam = identity.cam;
    po.label = "predict+CAM";
    std::shared_ptr<const FolderLock> lock;
    Store all = chunked_pass(m, ds, s, po, man, model_path, data_path, st, a.quiet, lock);
    Pass p{std::move(all.rows), std::move(all.manifest), st.chunk_dir, std::move(lock)};
    AnalysisInput& in = p.input;
    in.timings.load_s = std::chrono::duration<double>(t_load - a.started).count();
    in.timings.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a.started).count();
    auto rows = std::make_shared<const std::vector<int>>(in.indices);
    in.load_image = [&ds, rows](size_t row) { return ds.get(static_cast<size_t>((*rows)[row])).image; };
    if (a.on_stage) a.on_stage("pass", std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count());
    return p;
}

Analysis analyze_report(Model& m, const Dataset& ds, const InputSpec& s, const AnalyzeSettings& a, Pass pass) {
    Analysis out{std::move(pass.input), Report{},          a.report,
                 std::move(pass.manifest), a.store.in_report, std::move(pass.chunk_dir),
                 std::move(pass.chunk_lock)};
    AnalysisInput& in = out.input;
    AnalysisOptions& ro = out.options;
    ro.progress = a.progress;
    ro.threads = m.threads();  // figures are drawn on the cores the model used
    auto last = std::chrono::steady_clock::now();
    auto stage_done = [&](const char* stage) {  // AnalyzeSettings::on_stage
        if (!a.on_stage) return;
        const auto now = std::chrono::steady_clock::now();
        a.on_stage(stage, std::chrono::duration<double>(now - last).count());
        last = now;
    };
    Report& r = out.report;
    r = build_report(in, ro);
    r.identity = out.manifest.identity;
    // "What made it choose B over A": Finer-CAM of the pair sheets' errors (a few dozen images).
    const RunIdentity& ri = out.manifest.identity;
    const std::string layer = layers_text(ri.cam);
    stage_done("report model");
    attach_contrast_cams(r, m, ds, s, layer, a.batch_size);
    stage_done("contrast CAMs");
    if (a.flip.n > 0) {  // remove the evidence of a sample of the errors, see what the model says
        FlipSettings fl = a.flip;
        fl.batch_size = a.batch_size;
        fl.progress = a.progress;
        attach_flips(r, run_flip_test(m, ds, s, r, in, fl));
        stage_done("flip test");
    }
    if (ro.sanity_images > 0) {  // do the maps depend on the model at all? (a small seeded sample)
        SanityOptions so;
        so.images = static_cast<size_t>(ro.sanity_images);
        so.threshold = ro.sanity_threshold;
        so.batch_size = a.batch_size;
        r.sanity = sanity_gate(r, m, ds, s, ri.cam, so);
        stage_done("sanity gate");
    }
    if (a.faithfulness_n > 0) {  // which CAM method explains this model best, on a small even sample
        EvaluateOptions eo = quick_faithfulness_options(a.faithfulness_n, a.faithfulness_explicit, in.n);
        eo.cam_options = ri.cam;  // the maps the report shows, smoothing and alpha included
        eo.layers = ri.cam.layers;
        eo.batch_size = a.batch_size;
        eo.progress = a.progress;
        eo.label = "CAM faithfulness";
        if (r.degenerate.warn()) {  // too many blank maps: count them at other layers on the same sample too
            eo.check_method = ri.cam.method;
            eo.check_layers = candidate_layers(m.layers(s), layer);
        }
        faith::Summary fs = evaluate_cams(m, ds, s, in.class_names, eo);
        fs.dataset_path = in.dataset_path;
        fs.model_path = in.model_path;
        attach_faithfulness(r, std::move(fs), ro);
        stage_done("faithfulness");
    }
    return out;
}

Analysis analyze_dataset(Model& m, const Dataset& ds, const InputSpec& s, const AnalyzeSettings& a, RunIdentity identity,
                         const std::string& model_path, const std::string& data_path) {
    return analyze_report(m, ds, s, a, analyze_pass(m, ds, s, a, std::move(identity), model_path, data_path));
}

void write_analysis(const Analysis& an, const std::string& out) {
    AnalysisOptions ro = an.options;
    if (an.store_in_report)
        ro.extra_files = [&an](const std::string& folder) {
            write_store_files(folder + "/store", an.manifest, an.input, 0, an.input.n);
            return std::vector<std::pair<std::string, std::string>>{
                {"store/manifest.json", "the per-image results (store/*.npy) and what they were computed with: "
                                        "`camscope compare` and NumPy read them"}};
        };
    write_report(an.report, an.input, ro, out);
    remove_chunks(an.chunk_dir);
}

void check_store_destination(const std::string& out) {
    if (is_store(out) || !fs::exists(out) || fs::is_empty(out)) {
        StagedDir probe(out);  // the parent is writable (and stale staging folders go)
    } else {
        throw Error(where(out, "exists and is not a camscope store; a shard replaces its --out folder as a "
                               "whole: choose a new or empty folder"));
    }
}

void write_shard(const Pass& p, const std::string& out) {
    write_store(out, p.manifest, p.input);
    remove_chunks(p.chunk_dir);
}

}  // namespace camscope
