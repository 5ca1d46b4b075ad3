// RunIdentity (identity.hpp): what a report was made from, and the comparison `serve --results`
// makes before trusting a results folder.
#include "camscope/report/identity.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <filesystem>

#include "camscope/util/error.hpp"
#include "camscope/util/sha256.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

using nlohmann::json;

namespace {
/// A path that exists, made absolute: `merge` and `serve --results` run elsewhere and read it back.
std::string absolute_path(const std::string& p) {
    std::error_code ec;
    if (p.empty() || !std::filesystem::exists(p, ec)) return p;
    const auto a = std::filesystem::absolute(p, ec);
    return ec ? p : a.lexically_normal().string();
}
}  // namespace

void identify_model(RunIdentity& id, const std::string& model_path, const std::string& logits) {
    struct stat st {};
    if (::stat(model_path.c_str(), &st) != 0)
        throw Error(where(model_path, std::string("cannot read the model file: ") + std::strerror(errno)));
    id.model_path = absolute_path(model_path);
    id.model_bytes = static_cast<std::uint64_t>(st.st_size);
    id.model_sha256 = sha256_file(model_path);
    id.model_logits = logits;
}

void identify_model_bytes(RunIdentity& id, const std::string& name, const std::string& bytes, const std::string& logits) {
    id.model_path = name;
    id.model_bytes = bytes.size();
    id.model_sha256 = sha256_hex(bytes);
    id.model_logits = logits;
}

void identify_dataset(RunIdentity& id, const Dataset& ds, const std::string& data_path) {
    const auto& info = ds.info();
    id.data_path = absolute_path(data_path);
    id.data_format = info.format;
    id.data_name = info.name;
    id.split = info.split;
    id.data_images = ds.size();
    id.data_classes = ds.num_classes();
    Sha256 h;
    h.update("camscope dataset fingerprint 2");  // (version 1 hashed only the first and last 4 images)
    h.update_u64(ds.size());
    h.update_u64(ds.num_classes());
    for (const auto& c : info.class_names) {
        h.update_u64(c.size());
        h.update(c);
    }
    ds.fingerprint(h);
    id.data_fingerprint = h.hex();
}

void identify_input(RunIdentity& id, const InputSpec& spec) {
    id.channels = spec.channels;
    id.height = spec.height;
    id.width = spec.width;
    id.mean.assign(spec.norm.mean.begin(), spec.norm.mean.end());
    id.std.assign(spec.norm.std.begin(), spec.norm.std.end());
    id.norm_source = spec.norm_source;
}

json identity_json(const RunIdentity& id) {
    json j = {{"model", {{"path", id.model_path}, {"bytes", id.model_bytes}, {"sha256", id.model_sha256}}},
            {"dataset",
             {{"path", id.data_path},
              {"format", id.data_format},
              {"name", id.data_name},
              {"split", id.split},
              {"images", id.data_images},
              {"classes", id.data_classes},
              {"fingerprint", id.data_fingerprint},
              {"fingerprint_of", kFingerprintOf}}},
            {"input", {{"channels", id.channels}, {"height", id.height}, {"width", id.width}, {"mean", id.mean}, {"std", id.std}}},
            {"cam",
             {{"method", id.cam.method},
              {"layer", layers_text(id.cam)},
              {"eigen_smooth", id.cam.eigen_smooth},
              {"aug_smooth", id.cam.aug_smooth},
              {"max_channels", id.cam.max_channels},
              {"alpha", id.cam.alpha}}}};
    if (!id.norm_source.empty()) j["input"]["normalisation"] = id.norm_source;  // (absent in older runs)
    if (!id.model_logits.empty()) j["model"]["logits"] = id.model_logits;      // (absent: automatic)
    return j;
}

namespace {

const json& field(const json& j, const char* key, const std::string& at, const std::string& name) {
    if (!j.is_object() || !j.contains(key)) throw Error(where(name, "identity: '" + at + key + "' is missing"));
    return j.at(key);
}

std::string str(const json& j, const char* key, const std::string& at, const std::string& name, bool hex64 = false) {
    const json& v = field(j, key, at, name);
    if (!v.is_string()) throw Error(where(name, "identity: '" + at + key + "' must be a string"));
    std::string s = v.get<std::string>();
    if (hex64 && (s.size() != 64 || !std::all_of(s.begin(), s.end(), [](char c) {
                      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                  })))
        throw Error(where(name, "identity: '" + at + key + "' must be 64 lower-case hex digits"));
    return s;
}

std::uint64_t count(const json& j, const char* key, const std::string& at, const std::string& name) {
    const json& v = field(j, key, at, name);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
        throw Error(where(name, "identity: '" + at + key + "' must be a non-negative integer"));
    return v.get<std::uint64_t>();
}

int small_int(const json& j, const char* key, const std::string& at, const std::string& name) {
    const std::uint64_t v = count(j, key, at, name);
    if (v > (1u << 30)) throw Error(where(name, "identity: '" + at + key + "' is out of range"));
    return static_cast<int>(v);
}

bool flag(const json& j, const char* key, const std::string& at, const std::string& name) {
    const json& v = field(j, key, at, name);
    if (!v.is_boolean()) throw Error(where(name, "identity: '" + at + key + "' must be true or false"));
    return v.get<bool>();
}

std::vector<double> numbers(const json& j, const char* key, const std::string& at, const std::string& name) {
    const json& v = field(j, key, at, name);
    if (!v.is_array() || v.size() > 64) throw Error(where(name, "identity: '" + at + key + "' must be a list of numbers"));
    std::vector<double> out;
    for (const auto& x : v) {
        if (!x.is_number() || !std::isfinite(x.get<double>()))
            throw Error(where(name, "identity: '" + at + key + "' must be a list of finite numbers"));
        out.push_back(x.get<double>());
    }
    return out;
}

std::string short_hash(const std::string& h) { return h.substr(0, 12); }

std::string spec_text(const RunIdentity& id) {
    auto list = [](const std::vector<double>& v) {
        std::vector<std::string> s;
        for (double x : v) s.push_back(format("%.4g", x));
        std::string out(1, '[');  // (not "[" + ...: GCC 12 warns falsely about that, -Wrestrict)
        out += join(s, ", ");
        out += ']';
        return out;
    };
    return format("%dx%dx%d, mean %s, std %s", id.channels, id.height, id.width, list(id.mean).c_str(),
                  list(id.std).c_str());
}

bool close(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::fabs(a[i] - b[i]) > 1e-6 * std::max(1.0, std::fabs(a[i]))) return false;
    return true;
}

}  // namespace

RunIdentity parse_identity(const json& j, const std::string& name) {
    if (!j.is_object()) throw Error(where(name, "identity: must be an object"));
    RunIdentity id;
    const json& m = field(j, "model", "", name);
    id.model_path = str(m, "path", "model.", name);
    id.model_bytes = count(m, "bytes", "model.", name);
    id.model_sha256 = str(m, "sha256", "model.", name, true);
    if (m.contains("logits")) id.model_logits = str(m, "logits", "model.", name);
    const json& d = field(j, "dataset", "", name);
    id.data_path = str(d, "path", "dataset.", name);
    id.data_format = str(d, "format", "dataset.", name);
    id.data_name = str(d, "name", "dataset.", name);
    id.split = str(d, "split", "dataset.", name);
    id.data_images = count(d, "images", "dataset.", name);
    id.data_classes = count(d, "classes", "dataset.", name);
    id.data_fingerprint = str(d, "fingerprint", "dataset.", name, true);
    const json& in = field(j, "input", "", name);
    id.channels = small_int(in, "channels", "input.", name);
    id.height = small_int(in, "height", "input.", name);
    id.width = small_int(in, "width", "input.", name);
    id.mean = numbers(in, "mean", "input.", name);
    id.std = numbers(in, "std", "input.", name);
    if (in.contains("normalisation")) id.norm_source = str(in, "normalisation", "input.", name);
    const json& c = field(j, "cam", "", name);
    id.cam.method = str(c, "method", "cam.", name);
    for (auto& l : split(str(c, "layer", "cam.", name), '+'))  // layers_text's form
        if (!l.empty()) id.cam.layers.push_back(std::move(l));
    id.cam.eigen_smooth = flag(c, "eigen_smooth", "cam.", name);
    id.cam.aug_smooth = flag(c, "aug_smooth", "cam.", name);
    id.cam.max_channels = small_int(c, "max_channels", "cam.", name);
    if (c.contains("alpha")) {  // absent before camscope recorded it: those runs used 1
        const json& a = c.at("alpha");
        if (!a.is_number() || !std::isfinite(a.get<double>()) || a.get<double>() < 0 || a.get<double>() > 100)
            throw Error(where(name, "identity: 'cam.alpha' must be a number in [0, 100]"));
        id.cam.alpha = a.get<double>();
    }
    return id;
}

std::optional<std::string> dataset_difference(const RunIdentity& r, const RunIdentity& l, const IdentitySides& sides) {
    if (r.data_format == l.data_format && r.split == l.split && r.data_images == l.data_images &&
        r.data_classes == l.data_classes && r.data_fingerprint == l.data_fingerprint)
        return std::nullopt;
    std::string what;
    if (r.data_format != l.data_format) what = "format " + r.data_format + " vs " + l.data_format;
    else if (r.split != l.split) what = "split " + r.split + " vs " + l.split;
    else if (r.data_images != l.data_images)
        what = format("%llu vs %llu images", static_cast<unsigned long long>(r.data_images),
                      static_cast<unsigned long long>(l.data_images));
    else if (r.data_classes != l.data_classes)
        what = format("%llu vs %llu classes", static_cast<unsigned long long>(r.data_classes),
                      static_cast<unsigned long long>(l.data_classes));
    else
        what = "the same number of images, but the class names, labels or images differ (fingerprint " +
               short_hash(r.data_fingerprint) + "… vs " + short_hash(l.data_fingerprint) + "…)";
    return "dataset: " + sides.recorded + " " + r.data_path + "; " + sides.live + " " + l.data_path + ": " + what;
}

std::vector<std::string> identity_differences(const RunIdentity& r, const RunIdentity& l, const IdentitySides& sides) {
    std::vector<std::string> out;
    auto line = [&](const char* what, const std::string& rv, const std::string& lv, const std::string& tail = {}) {
        out.push_back(std::string(what) + ": " + sides.recorded + " " + rv + "; " + sides.live + " " + lv + tail);
    };
    if (r.model_sha256 != l.model_sha256 || r.model_bytes != l.model_bytes) {
        auto model = [](const RunIdentity& id) {
            return format("%s (%llu bytes, SHA-256 %s…)", id.model_path.c_str(),
                          static_cast<unsigned long long>(id.model_bytes), short_hash(id.model_sha256).c_str());
        };
        line("model", model(r), model(l));
    }
    if (r.model_logits != l.model_logits) {
        auto logits = [](const RunIdentity& id) {
            return id.model_logits.empty() ? std::string("the automatic choice") : "element '" + id.model_logits + "'";
        };
        line("logits (the model output's element)", logits(r), logits(l));
    }
    if (auto d = dataset_difference(r, l, sides)) out.push_back(*d);
    if (r.channels != l.channels || r.height != l.height || r.width != l.width || !close(r.mean, l.mean) ||
        !close(r.std, l.std))
        line("input", spec_text(r), spec_text(l));
    if (r.cam.method != l.cam.method) line("CAM method", r.cam.method, l.cam.method);
    if (r.cam.layers != l.cam.layers) line("CAM layer", layers_text(r.cam), layers_text(l.cam));
    return out;
}

std::optional<std::string> cam_options_difference(const CamSettings& r, const CamSettings& l, const IdentitySides& sides) {
    CamSettings rest = r;  // method and layers are identity_differences' lines
    rest.method = l.method;
    rest.layers = l.layers;
    if (rest == l) return std::nullopt;
    auto text = [](const CamSettings& c) {
        return format("eigen_smooth %s, aug_smooth %s, max_channels %d, alpha %.10g", c.eigen_smooth ? "on" : "off",
                      c.aug_smooth ? "on" : "off", c.max_channels, c.alpha);
    };
    return "CAM options: " + sides.recorded + " " + text(r) + "; " + sides.live + " " + text(l);
}

}  // namespace camscope
