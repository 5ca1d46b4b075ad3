// The analysis store (store.hpp): per-image results as .npy arrays + manifest.json.
#include "camscope/report/store.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>

#include "camscope/report/metrics.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/npy.hpp"
#include "camscope/util/strings.hpp"

#ifndef CAMSCOPE_VERSION
#define CAMSCOPE_VERSION "unknown"
#endif

namespace camscope {

namespace fs = std::filesystem;
using nlohmann::json;

std::pair<std::size_t, std::size_t> shard_rows(std::size_t total, int batch, int k, int n) {
    if (batch <= 0 || n <= 0 || k < 0 || k >= n)
        throw UsageError(format("shard %d/%d of batches of %d: need 0 <= K < N and a positive batch size", k, n, batch));
    const std::size_t b = static_cast<std::size_t>(batch);
    const std::size_t batches = (total + b - 1) / b;
    const std::size_t per = batches / n, extra = batches % n;
    auto first_batch = [&](std::size_t i) { return i * per + std::min(i, extra); };
    const std::size_t b0 = first_batch(k), b1 = first_batch(k + 1);
    return {std::min(total, b0 * b), std::min(total, b1 * b)};
}

json store_manifest_json(const StoreManifest& m) {
    const std::size_t n = m.end - m.begin;
    auto shape = [](std::initializer_list<std::size_t> d) { return json(std::vector<std::size_t>(d)); };
    return {{"format", "camscope-store"},
            {"schema", m.schema},
            {"camscope_version", m.camscope_version},
            {"identity", identity_json(m.identity)},
            {"data_flags", {{"split", m.data_split}, {"format", m.data_format_flag}}},
            {"batch_size", m.batch_size},
            {"total", m.total},
            {"shard", {{"k", m.shard}, {"n", m.shards}}},
            {"rows", {{"begin", m.begin}, {"end", m.end}}},
            {"model_kind", m.model_kind},
            {"class_names", m.class_names},
            {"coarse_names", m.coarse_names},
            {"fine_to_coarse", m.fine_to_coarse},
            {"num_classes", m.num_classes},
            {"cam_size", {{"height", m.fh}, {"width", m.fw}}},
            {"seconds", m.seconds},
            {"arrays",
             {{"index", {{"dtype", "<i8"}, {"shape", shape({n})}}},
              {"label", {{"dtype", "<i8"}, {"shape", shape({n})}}},
              {"pred", {{"dtype", "<i8"}, {"shape", shape({n})}}},
              {"logits", {{"dtype", "<f4"}, {"shape", shape({n, std::size_t(m.num_classes)})}}},
              {"cam_pred", {{"dtype", "<f4"}, {"shape", shape({n, std::size_t(m.fh), std::size_t(m.fw)})}}},
              {"cam_true", {{"dtype", "<f4"}, {"shape", shape({n, std::size_t(m.fh), std::size_t(m.fw)})}}},
              {"degenerate", {{"dtype", "|u1"}, {"shape", shape({n, 2})}}}}}};
}

namespace {

[[noreturn]] void bad(const std::string& name, const std::string& what) { throw Error(where(name, what)); }

const json& at(const json& j, const char* key, const std::string& name) {
    if (!j.is_object() || !j.contains(key)) bad(name, std::string("manifest: '") + key + "' is missing");
    return j.at(key);
}

std::size_t size_of(const json& j, const char* key, const std::string& name) {
    const json& v = at(j, key, name);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
        bad(name, std::string("manifest: '") + key + "' must be a non-negative integer");
    const std::uint64_t x = v.get<std::uint64_t>();
    if (x > (std::uint64_t{1} << 40)) bad(name, std::string("manifest: '") + key + "' is out of range");
    return static_cast<std::size_t>(x);
}

int small(const json& j, const char* key, const std::string& name) {
    const std::size_t v = size_of(j, key, name);
    if (v > (1u << 30)) bad(name, std::string("manifest: '") + key + "' is out of range");
    return static_cast<int>(v);
}

std::string text(const json& j, const char* key, const std::string& name) {
    const json& v = at(j, key, name);
    if (!v.is_string()) bad(name, std::string("manifest: '") + key + "' must be a string");
    return v.get<std::string>();
}

std::vector<std::string> texts(const json& j, const char* key, const std::string& name) {
    const json& v = at(j, key, name);
    if (!v.is_array()) bad(name, std::string("manifest: '") + key + "' must be a list of strings");
    std::vector<std::string> out;
    for (const auto& s : v) {
        if (!s.is_string()) bad(name, std::string("manifest: '") + key + "' must be a list of strings");
        out.push_back(s.get<std::string>());
    }
    return out;
}

std::vector<std::uint8_t> npy_i8(const std::vector<std::int64_t>& v) {
    return encode_npy(v.data(), "<i8", {static_cast<std::int64_t>(v.size())});
}

/// The rows' shapes, probabilities and provenance from the manifest (read_store and store_rows alike).
void fill_rows(AnalysisInput& in, const StoreManifest& m) {
    in.n = m.end - m.begin;
    in.num_classes = m.num_classes;
    in.fh = m.fh;
    in.fw = m.fw;
    in.probs = metrics::softmax_rows(in.logits.data(), in.n, in.num_classes);
    in.model_path = m.identity.model_path;
    in.model_kind = m.model_kind;
    in.dataset_path = m.identity.data_path;
    in.dataset_name = m.identity.data_name;
    in.split = m.identity.split;
    in.layer = layers_text(m.identity.cam);
    in.method = m.identity.cam.method;
    in.class_names = m.class_names;
    in.coarse_names = m.coarse_names;
    in.fine_to_coarse = m.fine_to_coarse;
    in.input_h = m.identity.height;
    in.input_w = m.identity.width;
    in.timings.predict_s = m.seconds;
}

}  // namespace

StoreManifest parse_store_manifest(const json& j, const std::string& name) {
    if (!j.is_object() || j.value("format", "") != "camscope-store")
        bad(name, "not a camscope store manifest (\"format\": \"camscope-store\" missing)");
    StoreManifest m;
    m.schema = small(j, "schema", name);
    if (m.schema != kStoreSchema)
        bad(name, format("store schema %d, this camscope reads schema %d", m.schema, kStoreSchema));
    m.camscope_version = text(j, "camscope_version", name);
    m.identity = parse_identity(at(j, "identity", name), name);
    const json& df = at(j, "data_flags", name);
    m.data_split = text(df, "split", name);
    m.data_format_flag = text(df, "format", name);
    m.batch_size = small(j, "batch_size", name);
    if (m.batch_size <= 0) bad(name, "manifest: 'batch_size' must be positive");
    m.total = size_of(j, "total", name);
    // Rows are dataset indices held as int (AnalysisInput::indices).
    if (m.total > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        bad(name, format("manifest: 'total' %zu is more images than camscope analyses in one run", m.total));
    const json& sh = at(j, "shard", name);
    m.shard = small(sh, "k", name);
    m.shards = small(sh, "n", name);
    if (m.shards <= 0 || m.shard >= m.shards) bad(name, format("manifest: shard %d of %d", m.shard, m.shards));
    const json& rows = at(j, "rows", name);
    m.begin = size_of(rows, "begin", name);
    m.end = size_of(rows, "end", name);
    if (m.begin > m.end || m.end > m.total)
        bad(name, format("manifest: rows %zu..%zu do not lie within the analysis' %zu images", m.begin, m.end, m.total));
    m.model_kind = text(j, "model_kind", name);
    m.class_names = texts(j, "class_names", name);
    m.coarse_names = texts(j, "coarse_names", name);
    const json& f2c = at(j, "fine_to_coarse", name);
    if (!f2c.is_array()) bad(name, "manifest: 'fine_to_coarse' must be a list");
    for (const auto& v : f2c) {
        if (!v.is_number_integer()) bad(name, "manifest: 'fine_to_coarse' must be a list of integers");
        m.fine_to_coarse.push_back(v.get<int>());
    }
    m.num_classes = small(j, "num_classes", name);
    if (m.num_classes <= 0 || m.class_names.size() != static_cast<std::size_t>(m.num_classes))
        bad(name, format("manifest: %zu class names for %d classes", m.class_names.size(), m.num_classes));
    const json& cs = at(j, "cam_size", name);
    m.fh = small(cs, "height", name);
    m.fw = small(cs, "width", name);
    const json& sec = at(j, "seconds", name);
    m.seconds = sec.is_number() ? sec.get<double>() : 0.0;
    return m;
}

void write_store_files(const std::string& dir, StoreManifest m, const AnalysisInput& in, std::size_t from,
                       std::size_t to) {
    if (from > to || to > in.n) throw Error(format("write_store_files: rows %zu..%zu of %zu", from, to, in.n));
    make_dirs(dir);
    const std::size_t n = to - from, k = static_cast<std::size_t>(in.num_classes),
                      hw = static_cast<std::size_t>(in.fh) * in.fw;
    const std::int64_t ni = static_cast<std::int64_t>(n);
    std::vector<std::int64_t> index(n), label(n), pred(n);
    std::vector<std::uint8_t> degenerate(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t r = from + i;
        index[i] = in.indices[r];
        label[i] = in.labels[r];
        const float* p = in.probs.data() + r * k;
        pred[i] = std::max_element(p, p + k) - p;
        degenerate[2 * i] = metrics::degenerate_cam(in.cam_pred.data() + r * hw, hw);
        degenerate[2 * i + 1] = metrics::degenerate_cam(in.cam_true.data() + r * hw, hw);
    }
    const std::string d = (fs::path(dir) / "").string();
    write_file_atomic(d + "index.npy", npy_i8(index));
    write_file_atomic(d + "label.npy", npy_i8(label));
    write_file_atomic(d + "pred.npy", npy_i8(pred));
    write_file_atomic(d + "logits.npy", encode_npy(in.logits.data() + from * k, "<f4", {ni, std::int64_t(k)}));
    write_file_atomic(d + "cam_pred.npy", encode_npy(in.cam_pred.data() + from * hw, "<f4", {ni, in.fh, in.fw}));
    write_file_atomic(d + "cam_true.npy", encode_npy(in.cam_true.data() + from * hw, "<f4", {ni, in.fh, in.fw}));
    write_file_atomic(d + "degenerate.npy", encode_npy(degenerate.data(), "|u1", {ni, 2}));
    m.begin = n ? static_cast<std::size_t>(in.indices[from]) : m.begin;
    m.end = m.begin + n;
    m.fh = in.fh;
    m.fw = in.fw;
    m.num_classes = in.num_classes;
    m.camscope_version = CAMSCOPE_VERSION;
    write_file_atomic(d + "manifest.json", store_manifest_json(m).dump(1) + "\n");
}

void write_store(const std::string& dir, const StoreManifest& m, const AnalysisInput& in) {
    StagedDir stage(dir);
    write_store_files(stage.path(), m, in, 0, in.n);
    stage.commit();
}

Store store_rows(StoreManifest m, const AnalysisInput& in, std::size_t from, std::size_t to) {
    if (from > to || to > in.n) throw Error(format("store_rows: rows %zu..%zu of %zu", from, to, in.n));
    const std::size_t n = to - from, k = static_cast<std::size_t>(in.num_classes),
                      hw = static_cast<std::size_t>(in.fh) * in.fw;
    m.begin = n ? static_cast<std::size_t>(in.indices[from]) : m.begin;  // as write_store_files
    m.end = m.begin + n;
    m.fh = in.fh;
    m.fw = in.fw;
    m.num_classes = in.num_classes;
    m.camscope_version = CAMSCOPE_VERSION;
    Store s;
    s.manifest = std::move(m);
    AnalysisInput& r = s.rows;
    r.indices.assign(in.indices.begin() + from, in.indices.begin() + to);
    r.labels.assign(in.labels.begin() + from, in.labels.begin() + to);
    r.logits.assign(in.logits.begin() + from * k, in.logits.begin() + to * k);
    r.cam_pred.assign(in.cam_pred.begin() + from * hw, in.cam_pred.begin() + to * hw);
    r.cam_true.assign(in.cam_true.begin() + from * hw, in.cam_true.begin() + to * hw);
    fill_rows(r, s.manifest);
    return s;
}

bool is_store(const std::string& dir) { return fs::is_regular_file(fs::path(dir) / "manifest.json"); }

bool is_store_file_name(const std::string& name) {
    for (const char* n : {"manifest.json", "index.npy", "label.npy", "pred.npy", "logits.npy", "cam_pred.npy",
                          "cam_true.npy", "degenerate.npy"})
        if (name == n) return true;
    return false;
}

Store read_store(const std::string& dir_in) {
    std::string dir = dir_in;
    if (!is_store(dir) && is_store((fs::path(dir) / "store").string())) dir = (fs::path(dir) / "store").string();
    const std::string mpath = (fs::path(dir) / "manifest.json").string();
    if (!fs::exists(mpath))
        throw Error(where(dir_in, "not a camscope store: no manifest.json (an unfinished or killed shard writes none)"));
    const auto bytes = read_file(mpath, std::uint64_t{64} << 20);  // (class names of 100,000 classes fit)
    const json j = json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (j.is_discarded()) throw Error(where(mpath, "not valid JSON"));
    Store s;
    s.path = dir;
    s.manifest = parse_store_manifest(j, mpath);
    const StoreManifest& m = s.manifest;
    const std::int64_t n = static_cast<std::int64_t>(m.end - m.begin);
    auto load = [&](const char* file, const char* dtype, std::vector<std::int64_t> shape) {
        const std::string p = (fs::path(dir) / file).string();
        NpyArray a = read_npy(p);
        if (a.dtype != dtype || a.shape != shape) {
            std::vector<std::string> want, got;
            for (auto d : shape) want.push_back(std::to_string(d));
            for (auto d : a.shape) got.push_back(std::to_string(d));
            throw Error(where(p, "expected " + std::string(dtype) + " (" + join(want, ", ") + ") as manifest.json says, found " +
                                     a.dtype + " (" + join(got, ", ") + ")"));
        }
        return a;
    };
    AnalysisInput& in = s.rows;
    const NpyArray index = load("index.npy", "<i8", {n});
    const NpyArray label = load("label.npy", "<i8", {n});
    const NpyArray logits = load("logits.npy", "<f4", {n, m.num_classes});
    const NpyArray cp = load("cam_pred.npy", "<f4", {n, m.fh, m.fw});
    const NpyArray ct = load("cam_true.npy", "<f4", {n, m.fh, m.fw});
    const auto idx = index.as_int();
    const auto lab = label.as_int();
    for (std::int64_t i = 0; i < n; ++i) {
        if (idx[i] != static_cast<std::int64_t>(m.begin) + i)
            throw Error(where((fs::path(dir) / "index.npy").string(),
                              format("row %lld is image %lld, expected %zu (the rows %zu..%zu of manifest.json)",
                                     static_cast<long long>(i), static_cast<long long>(idx[i]), m.begin + i, m.begin,
                                     m.end)));
        if (lab[i] < 0 || lab[i] >= m.num_classes)
            throw Error(where((fs::path(dir) / "label.npy").string(),
                              format("row %lld has label %lld, outside 0..%d", static_cast<long long>(i),
                                     static_cast<long long>(lab[i]), m.num_classes - 1)));
    }
    in.indices.assign(idx.begin(), idx.end());
    in.labels.assign(lab.begin(), lab.end());
    in.logits = logits.as_float();
    in.cam_pred = cp.as_float();
    in.cam_true = ct.as_float();
    // What camscope writes: finite logits, maps in [0, 1] (min-max normalised, or all zero).
    auto check_values = [&](const std::vector<float>& v, const char* file, std::size_t per_row, bool unit) {
        for (std::size_t i = 0; i < v.size(); ++i)
            if (!std::isfinite(v[i]) || (unit && (v[i] < 0.f || v[i] > 1.f)))
                throw Error(where((fs::path(dir) / file).string(),
                                  format("row %zu holds %g, expected %s", i / per_row, static_cast<double>(v[i]),
                                         unit ? "a value in [0, 1] (a CAM)" : "a finite number")));
    };
    const std::size_t hw = static_cast<std::size_t>(m.fh) * m.fw;
    check_values(in.logits, "logits.npy", static_cast<std::size_t>(std::max(1, m.num_classes)), false);
    check_values(in.cam_pred, "cam_pred.npy", std::max<std::size_t>(1, hw), true);
    check_values(in.cam_true, "cam_true.npy", std::max<std::size_t>(1, hw), true);
    fill_rows(in, m);
    return s;
}

std::vector<std::string> store_differences(const StoreManifest& a, const StoreManifest& b, const IdentitySides& sides) {
    std::vector<std::string> out = identity_differences(a.identity, b.identity, sides);
    auto line = [&](const char* what, const std::string& av, const std::string& bv) {
        out.push_back(std::string(what) + ": " + sides.recorded + " " + av + "; " + sides.live + " " + bv);
    };
    // identity_differences compares what `serve` needs; the store's rows also depend on these.
    if (auto d = cam_options_difference(a.identity.cam, b.identity.cam, sides)) out.push_back(*d);
    if (a.batch_size != b.batch_size)
        line("batch size", std::to_string(a.batch_size), std::to_string(b.batch_size));
    if (a.total != b.total)
        line("images analysed (--limit)", std::to_string(a.total), std::to_string(b.total));
    if (a.class_names != b.class_names) line("class names", bracketed(a.class_names), bracketed(b.class_names));
    const bool shaped = a.num_classes > 0 && b.num_classes > 0;  // (a run's settings before its pass have none)
    if (shaped && (a.num_classes != b.num_classes || a.fh != b.fh || a.fw != b.fw))
        line("shapes", format("%d classes, CAMs %dx%d", a.num_classes, a.fh, a.fw),
             format("%d classes, CAMs %dx%d", b.num_classes, b.fh, b.fw));
    return out;
}

Store combine_stores(std::vector<Store> parts, const std::string& what, std::pair<std::size_t, std::size_t> rows) {
    if (parts.empty()) throw UsageError("no " + what + " to combine");
    for (std::size_t i = 1; i < parts.size(); ++i) {
        const auto diff = store_differences(parts[0].manifest, parts[i].manifest,
                                            {parts[0].path + " was computed with", parts[i].path + " with"});
        if (!diff.empty()) {
            std::string msg = parts[i].path + " does not belong with " + parts[0].path + " (another run):";
            for (const auto& d : diff) msg += "\n  " + d;
            throw Error(msg);
        }
    }
    std::stable_sort(parts.begin(), parts.end(), [](const Store& a, const Store& b) {
        return a.manifest.begin != b.manifest.begin ? a.manifest.begin < b.manifest.begin : a.manifest.end < b.manifest.end;
    });
    const StoreManifest& m0 = parts[0].manifest;
    // Shards of one split (same N): name a shard given twice or missing by its K.
    bool one_split = what == "shard";
    for (const auto& p : parts) one_split = one_split && p.manifest.shards == m0.shards;
    if (one_split) {
        std::vector<std::vector<std::string>> by_k(m0.shards);
        for (const auto& p : parts) by_k[p.manifest.shard].push_back(p.path);
        for (int k = 0; k < m0.shards; ++k)
            if (by_k[k].size() > 1)
                throw Error(format("shard %d/%d is given twice: ", k, m0.shards) + join(by_k[k], " and "));
        for (int k = 0; k < m0.shards; ++k)
            if (by_k[k].empty()) {
                const auto [b, e] = shard_rows(m0.total, m0.batch_size, k, m0.shards);
                throw Error(format("shard %d/%d (images %zu..%zu) is missing: %zu of %d shards given", k, m0.shards, b,
                                   e == 0 ? 0 : e - 1, parts.size(), m0.shards));
            }
    }
    const std::size_t first = rows.second == SIZE_MAX ? 0 : rows.first;
    const std::size_t last = rows.second == SIZE_MAX ? m0.total : rows.second;
    std::size_t next = first;
    const std::string* prev = nullptr;
    for (const auto& p : parts) {
        const auto& m = p.manifest;
        if (m.begin == m.end) continue;  // an empty slice (more shards than batches)
        if (m.begin < next)
            throw Error(format("%s %s (images %zu..%zu) overlaps %s (images up to %zu): each image must be in one %s",
                               what.c_str(), p.path.c_str(), m.begin, m.end - 1, prev ? prev->c_str() : "?", next - 1,
                               what.c_str()));
        if (m.begin > next)
            throw Error(format("images %zu..%zu are in no %s given (the analysis has %zu images)", next, m.begin - 1,
                               what.c_str(), m0.total));
        next = m.end;
        prev = &p.path;
    }
    if (next < last)
        throw Error(format("images %zu..%zu are in no %s given (the analysis has %zu images)", next, last - 1,
                           what.c_str(), m0.total));
    if (next > last)
        throw Error(format("%s %s reaches image %zu, beyond the rows %zu..%zu asked for", what.c_str(),
                           prev ? prev->c_str() : "?", next - 1, first, last - 1));
    Store all;
    all.path = parts.size() == 1 ? parts[0].path : "";
    all.manifest = m0;
    all.manifest.shard = 0;
    all.manifest.shards = 1;
    all.manifest.begin = first;
    all.manifest.end = last;
    all.manifest.seconds = 0;
    AnalysisInput& in = all.rows;
    in = parts[0].rows;  // provenance fields
    in.n = 0;
    in.indices.clear(), in.labels.clear(), in.logits.clear(), in.probs.clear(), in.cam_pred.clear(), in.cam_true.clear();
    for (auto& p : parts) {
        all.manifest.seconds += p.manifest.seconds;
        auto append = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
        append(in.indices, p.rows.indices);
        append(in.labels, p.rows.labels);
        append(in.logits, p.rows.logits);
        append(in.probs, p.rows.probs);
        append(in.cam_pred, p.rows.cam_pred);
        append(in.cam_true, p.rows.cam_true);
        in.n += p.rows.n;
    }
    in.timings.predict_s = all.manifest.seconds;
    return all;
}

}  // namespace camscope
