// Writes the seed corpora of the fuzz targets (scripts/fuzz.sh runs it): valid inputs cut from
// the committed fixtures, the malformed-input corpus, and a few made here (IDX, gzip, PNG, JPEG,
// metadata, server request targets), so that fuzzing starts past the format checks instead of
// rediscovering the magic.
// Usage: make_seeds SOURCE_ROOT OUT_DIR  (creates OUT_DIR/<target>/...)
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

// stb_image_write makes the JPEG seeds only (camscope itself writes no JPEG): its implementation
// lives here, in this seed generator, not in the library.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#pragma GCC diagnostic pop

#include "camscope/image/image.hpp"
#include "camscope/report/store.hpp"
#include "camscope/util/npy.hpp"
#include "camscope/util/atomic_file.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

fs::path g_out;

void seed(const std::string& target, const std::string& name, const Bytes& b) {
    fs::create_directories(g_out / target);
    std::ofstream(g_out / target / name, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}

Bytes slurp(const fs::path& p, std::size_t max = SIZE_MAX) {
    std::ifstream f(p, std::ios::binary);
    Bytes b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (b.size() > max) b.resize(max);
    return b;
}

void be32(Bytes& b, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

Bytes gz(const Bytes& in) {
    z_stream z{};
    deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // +16: gzip wrapper
    Bytes out(deflateBound(&z, in.size()) + 32);
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

/// The fuzz_idx input layout: 2-byte big-endian images length, images file, labels file.
Bytes idx_pair(const Bytes& images, const Bytes& labels) {
    Bytes b{static_cast<std::uint8_t>(images.size() >> 8), static_cast<std::uint8_t>(images.size())};
    b.insert(b.end(), images.begin(), images.end());
    b.insert(b.end(), labels.begin(), labels.end());
    return b;
}

camscope::Image pattern(int w, int h, int c) {
    camscope::Image img{w, h, c, Bytes(static_cast<std::size_t>(w) * h * c)};
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(i * 37 + i / 7);
    return img;
}

void jpeg_writer(void* ctx, void* data, int size) {
    auto* b = static_cast<Bytes*>(ctx);
    b->insert(b->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: make_seeds SOURCE_ROOT OUT_DIR\n");
        return 2;
    }
    const fs::path src = argv[1];
    g_out = argv[2];
    const fs::path fx = src / "tests/fixtures", bad = src / "tests/malformed";

    // CIFAR: first byte 0 = CIFAR-10, 1 = CIFAR-100; two real records each, and the malformed ones.
    auto cifar = [](std::uint8_t kind, Bytes body) {
        body.insert(body.begin(), kind);
        return body;
    };
    seed("fuzz_cifar", "cifar10_2rec", cifar(0, slurp(fx / "tiny_cifar10/test_batch.bin", 2 * 3073)));
    seed("fuzz_cifar", "cifar100_2rec", cifar(1, slurp(fx / "tiny_cifar100/test.bin", 2 * 3074)));
    for (const char* f : {"cifar10_truncated/test_batch.bin", "cifar10_label_out_of_range/test_batch.bin"})
        seed("fuzz_cifar", fs::path(f).parent_path().string(), cifar(0, slurp(bad / f)));
    seed("fuzz_cifar", "cifar100_label", cifar(1, slurp(bad / "cifar100_fine_label_out_of_range/test.bin")));

    // IDX: small valid pairs (3 images of 4×4 and 2 of 28×28) and the malformed corpus.
    auto images = [](std::uint32_t n, std::uint32_t r, std::uint32_t c) {
        Bytes b;
        be32(b, 0x803), be32(b, n), be32(b, r), be32(b, c);
        for (std::uint32_t i = 0; i < n * r * c; ++i) b.push_back(static_cast<std::uint8_t>(i * 13));
        return b;
    };
    auto labels = [](std::uint32_t n) {
        Bytes b;
        be32(b, 0x801), be32(b, n);
        for (std::uint32_t i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(i % 10));
        return b;
    };
    const std::vector<std::pair<Bytes, Bytes>> pairs = {{images(3, 4, 4), labels(3)}, {images(2, 28, 28), labels(2)}};
    int k = 0;
    for (const auto& [im, lb] : pairs) {
        seed("fuzz_idx", "valid" + std::to_string(k), idx_pair(im, lb));
        seed("fuzz_idx_gz", "valid" + std::to_string(k++), idx_pair(gz(im), gz(lb)));
    }
    for (const char* d : {"idx_wrong_dims", "idx_label_out_of_range", "idx_count_exceeds_file", "idx_labels_bad_magic"})
        seed("fuzz_idx", d, idx_pair(slurp(bad / d / "t10k-images-idx3-ubyte"), slurp(bad / d / "t10k-labels-idx1-ubyte")));
    for (const char* d : {"idx_gz_truncated", "idx_gz_more_than_claimed"})
        seed("fuzz_idx_gz", d,
             idx_pair(slurp(bad / d / "t10k-images-idx3-ubyte.gz"), slurp(bad / d / "t10k-labels-idx1-ubyte.gz")));

    // Images: PNG (grey, RGB; encoded by camscope), JPEG (stb_image_write, baseline), and the
    // malformed PNGs.
    seed("fuzz_image_decode", "grey.png", camscope::encode_png(pattern(7, 5, 1)));
    seed("fuzz_image_decode", "rgb.png", camscope::encode_png(pattern(16, 9, 3)));
    for (int c : {1, 3}) {
        Bytes jpg;
        const auto img = pattern(12, 10, c);
        stbi_write_jpg_to_func(jpeg_writer, &jpg, img.width, img.height, c, img.pixels.data(), 80);
        seed("fuzz_image_decode", "c" + std::to_string(c) + ".jpg", jpg);
    }
    for (const char* f : {"folder_corrupt_png/airplane/1_corrupt.png", "folder_huge_png/airplane/0_aaa_huge.png",
                          "folder_truncated_png/airplane/1_truncated.png"})
        seed("fuzz_image_decode", fs::path(f).filename().string(), slurp(bad / f));

    // Model metadata: what `camscope train` writes, and variations.
    auto text = [](const std::string& s) { return Bytes(s.begin(), s.end()); };
    seed("fuzz_model_metadata", "train",
         text(R"({"format":"camscope-model","version":1,"arch":"resnet20","class_names":["a","b"],)"
              R"("input":{"channels":3,"height":32,"width":32,"mean":[0.49,0.48,0.44],"std":[0.24,0.24,0.26]}})"));
    seed("fuzz_model_metadata", "grey", text(R"({"arch":"cnn","input":{"channels":1,"height":28,"width":28,"mean":[0.1307],"std":[0.3081]}})"));
    seed("fuzz_model_metadata", "empty_norm", text(R"({"input":{"channels":3,"height":1,"width":65536,"mean":[],"std":[]}})"));
    seed("fuzz_model_metadata", "names", text(R"({"class_names":["\u00e9t\u00e9","x"],"untrained":true,"seed":1})"));

    // Server requests: the JSON API table of docs/explorer.md, as request targets ("path?query").
    int r = 0;
    for (const char* t : {"/", "/app.js", "/data.js", "/api/explorer", "/api/summary", "/api/classes", "/api/class/3",
                          "/api/class/Cat", "/api/confusion", "/api/cell/3/5?offset=0&limit=50", "/api/image/7",
                          "/api/image/7/input.png", "/api/cam?image=7&target=pred&method=gradcam&layer=layer2",
                          "/api/cam?image=0&target=dog&method=scorecam&layer=conv1&format=json&max_channels=64",
                          "/api/cam?image=199&target=true", "/api/diff?image=3&a=pred&b=true&method=gradcam&layer=layer2",
                          "/api/diff?image=3&a=1&b=Truck", "/api/methods", "/api/layers", "/api/image/99999999999",
                          "/api/cam?image=0&max_channels=1e9x", "/api/%2e%2e/%2e%2e/CMakeLists.txt",
                          "/api/image/0%2f..%2f..%2fetc%2fpasswd", "/api/cam?image=1&image=2&tar%67et=a+b&flag"})
        seed("fuzz_serve_request", "url" + std::to_string(r++), text(t));

    // Results folder (fuzz_results): 2-byte big-endian length of summary.json, summary.json, data.js.
    // A small complete pair (3 classes, 4 rows) in the layout `camscope analyze` writes, and variants.
    const std::string h64(64, 'a');
    const std::string summary =
        R"({"schema_version":1,"generator":"camscope","run":{"num_images":4},"classes":["a","b","c"],"identity":{)"
        R"("model":{"path":"m.pt","bytes":10,"sha256":")" + h64 + R"("},"dataset":{"path":"d","format":"cifar10",)"
        R"("name":"cifar10","split":"test","images":4,"classes":3,"fingerprint":")" + h64 + R"("},"input":{"channels":3,)"
        R"("height":32,"width":32,"mean":[0.5,0.5,0.5],"std":[0.25,0.25,0.25]},"cam":{"method":"gradcam",)"
        R"("layer":"layer4","eigen_smooth":false,"aug_smooth":false,"max_channels":0}}})";
    const std::string data =
        "// camscope explorer data\nwindow.CAMSCOPE_DATA = "
        R"({"schema":1,"run":{"method":"gradcam","layer":"layer4","n":4},"overall":{"top1":0.5},"calibration":{"ece":0.1},)"
        R"("classes":["a","b","c"],"per_class":[{},{},{}],"confusion":{"counts":[[1,1,0],[0,1,0],[0,0,1]],"order":[0,1,2]},)"
        R"("pairs":[{"true":0,"pred":1,"count":1,"rate":0.5}],"rows":{"index":[0,1,2,3],"label":[0,0,1,2],"pred":[0,1,1,2],)"
        R"("conf":[0.9,0.6,0.8,0.7],"top":[[0,1],[1,0],[1,2],[2,0]],"top_p":[[0.9,0.1],[0.6,0.4],[0.8,0.2],[0.7,0.3]]},)"
        R"("galleries":[{"cls":0,"worst":[1],"best":[0]},{"cls":1,"worst":[],"best":[2]},{"cls":2,"worst":[],"best":[3]}]};)"
        "\n";
    auto results = [&](const std::string& s, const std::string& d) {
        Bytes b{static_cast<std::uint8_t>(s.size() >> 8), static_cast<std::uint8_t>(s.size())};
        b.insert(b.end(), s.begin(), s.end());
        b.insert(b.end(), d.begin(), d.end());
        return b;
    };
    auto replaced = [](std::string s, const std::string& from, const std::string& to) {
        return s.replace(s.find(from), from.size(), to);
    };
    seed("fuzz_results", "valid", results(summary, data));
    seed("fuzz_results", "pred_out_of_range", results(summary, replaced(data, R"("pred":[0,1,1,2])", R"("pred":[0,1,99,2])")));
    seed("fuzz_results", "gallery_row", results(summary, replaced(data, R"("best":[3])", R"("best":[4])")));
    seed("fuzz_results", "no_identity", results(replaced(summary, R"("identity")", R"("identity_")"), data));
    // Schema 2 (report/explorer.hpp): the same rows with the per-row columns and top-level fields it adds.
    const std::string v2_fields =
        R"("p_true":[0.9,0.4,0.8,0.7],"flags":[0,4,0,2],"lscore":[null,0.2,null,null],"centre":[0.3,null,0.5,0.25]},)";
    const std::string v2_tail =
        R"(,"superclasses":{"names":["x","y"],"of_class":[0,1,1]},"thresholds":{"high_conf":0.9,"low_conf":0.5},)"
        R"("lists":{"label_issues":[1],"high_conf_errors":[],"low_conf_correct":[3],"faithfulness":[{"method":"gradcam",)"
        R"("layer":"layer4","mean_rank":1.5,"maps":4,"degenerate":1}],"degenerate":{"maps":4,"degenerate":1,)"
        R"("by_pred_class":[{"cls":1,"maps":2,"degenerate":1}]}},"thumbs":{"tile":[32,32],"cols":32,"per_sheet":1024,)"
        R"("sheets":["img/thumbs-0.png"]},"tags_key":"abc"};)";
    const std::string v2 = replaced(replaced(replaced(data, R"("schema":1)", R"("schema":2)"), R"([0.7,0.3]]},)",
                                             R"([0.7,0.3]],)" + v2_fields),
                                    "]}]};", "]}]" + v2_tail);
    seed("fuzz_results", "schema2", results(summary, v2));
    seed("fuzz_results", "schema2_sparse",
         results(summary, replaced(v2, R"("counts":[[1,1,0],[0,1,0],[0,0,1]])", R"("cells":[[0,0,1],[0,1,1],[1,1,1],[2,2,1]])")));
    seed("fuzz_results", "schema2_list_row", results(summary, replaced(v2, R"("label_issues":[1])", R"("label_issues":[4])")));
    // POST api/tags bodies (fuzz_serve_request also parses its input as one).
    seed("fuzz_serve_request", "tags_body", text(R"({"row": 3, "tags": ["relabel", "ambiguous"]})"));
    seed("fuzz_serve_request", "thumbs", text("/api/thumbs/2.png"));

    // Analysis store (fuzz_store): 2-byte big-endian length of manifest.json, manifest.json, then the
    // bytes the arrays' items are cut from (and the raw .npy). A shard of 4 rows of 3 classes, 2×2 CAMs.
    camscope::StoreManifest m;
    m.camscope_version = "seed";
    m.identity.model_path = "m.pt";
    m.identity.model_bytes = 10;
    m.identity.model_sha256 = h64;
    m.identity.data_path = "d";
    m.identity.data_format = m.identity.data_name = "cifar10";
    m.identity.split = m.data_split = "test";
    m.identity.data_images = 8;
    m.identity.data_classes = 3;
    m.identity.data_fingerprint = h64;
    m.identity.channels = 3;
    m.identity.height = m.identity.width = 32;
    m.identity.mean = {0.5, 0.5, 0.5};
    m.identity.std = {0.25, 0.25, 0.25};
    m.identity.cam.method = "gradcam";
    m.identity.cam.layers = {"layer4"};
    m.total = 8;
    m.shard = 1;
    m.shards = 2;
    m.begin = 4;
    m.end = 8;
    m.model_kind = "torchscript";
    m.class_names = {"a", "b", "c"};
    m.num_classes = 3;
    m.fh = m.fw = 2;
    auto store_seed = [&](const camscope::StoreManifest& man, const Bytes& rest) {
        const std::string j = camscope::store_manifest_json(man).dump();
        Bytes b{static_cast<std::uint8_t>(j.size() >> 8), static_cast<std::uint8_t>(j.size())};
        b.insert(b.end(), j.begin(), j.end());
        b.insert(b.end(), rest.begin(), rest.end());
        return b;
    };
    const Bytes label2{2, 0, 0, 0, 0, 0, 0, 0};  // label 2 for every row, index right (even first byte)
    seed("fuzz_store", "valid", store_seed(m, label2));
    seed("fuzz_store", "wrong_index", store_seed(m, Bytes{1, 0, 0, 0, 0, 0, 0, 0}));
    seed("fuzz_store", "label_out_of_range", store_seed(m, Bytes{4, 0, 0, 0, 0, 0, 0, 0}));
    const std::vector<float> f{0.5f, 1.f, 0.f, 0.25f};
    seed("fuzz_store", "npy", store_seed(m, camscope::encode_npy_f32(f.data(), {2, 2})));
    return 0;
}
