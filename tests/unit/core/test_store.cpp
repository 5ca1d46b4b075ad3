// report/store.hpp and report/compare.hpp without the binary: slices, manifests, combining parts,
// McNemar's test against textbook values.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "camscope/report/compare.hpp"
#include "camscope/report/store.hpp"
#include "camscope/util/error.hpp"

using namespace camscope;
namespace fs = std::filesystem;

TEST(StoreSlices, ShardsPartitionTheRowsOnBatchBoundaries) {
    for (std::size_t total : {0, 1, 15, 16, 17, 200, 1000})
        for (int batch : {1, 7, 16})
            for (int n : {1, 2, 3, 4, 13, 50}) {
                std::size_t next = 0, smallest = SIZE_MAX, largest = 0;
                for (int k = 0; k < n; ++k) {
                    const auto [b, e] = shard_rows(total, batch, k, n);
                    ASSERT_EQ(b, next) << total << " " << batch << " " << k << "/" << n;
                    ASSERT_LE(b, e);
                    if (b < total) {
                        ASSERT_EQ(b % batch, 0u);
                    }
                    const std::size_t batches = (e - b + batch - 1) / batch;
                    smallest = std::min(smallest, batches), largest = std::max(largest, batches);
                    next = e;
                }
                EXPECT_EQ(next, total);
                EXPECT_LE(largest - smallest, 1u) << "as even as whole batches allow";
            }
    EXPECT_EQ(shard_rows(200, 16, 1, 3), (std::pair<std::size_t, std::size_t>{80, 144}));
    EXPECT_THROW(shard_rows(200, 16, 3, 3), UsageError);
    EXPECT_THROW(shard_rows(200, 0, 0, 3), UsageError);
}

namespace {

StoreManifest manifest(std::size_t total, int k, int n) {
    StoreManifest m;
    m.identity.model_sha256 = std::string(64, 'a');
    m.identity.data_fingerprint = std::string(64, 'b');
    m.identity.data_images = total;
    m.identity.cam.method = "gradcam";
    m.identity.cam.layers = {"layer3"};
    m.batch_size = 4;
    m.total = total;
    m.shard = k, m.shards = n;
    std::tie(m.begin, m.end) = shard_rows(total, 4, k, n);
    m.class_names = {"a", "b"};
    m.num_classes = 2, m.fh = 1, m.fw = 2;
    return m;
}

Store part(std::size_t total, int k, int n, const std::string& name) {
    Store s;
    s.path = name;
    s.manifest = manifest(total, k, n);
    AnalysisInput& in = s.rows;
    in.num_classes = 2, in.fh = 1, in.fw = 2;
    for (std::size_t r = s.manifest.begin; r < s.manifest.end; ++r) {
        in.indices.push_back(static_cast<int>(r));
        in.labels.push_back(static_cast<int>(r % 2));
        in.logits.insert(in.logits.end(), {float(r), 0.f});
        in.probs.insert(in.probs.end(), {0.5f, 0.5f});
        in.cam_pred.insert(in.cam_pred.end(), {1.f, 0.f});
        in.cam_true.insert(in.cam_true.end(), {0.f, 1.f});
        ++in.n;
    }
    return s;
}

}  // namespace

TEST(StoreCombine, PartsInAnyOrderMakeTheRunAndGapsOrOverlapsAreNamed) {
    Store all = combine_stores({part(30, 2, 3, "s2"), part(30, 0, 3, "s0"), part(30, 1, 3, "s1")});
    ASSERT_EQ(all.rows.n, 30u);
    for (int i = 0; i < 30; ++i) ASSERT_EQ(all.rows.indices[i], i);
    EXPECT_EQ(all.rows.logits[2 * 29], 29.f);
    EXPECT_EQ(all.manifest.begin, 0u);
    EXPECT_EQ(all.manifest.end, 30u);

    auto message = [](std::vector<Store> parts, const std::string& what = "shard") {
        try {
            combine_stores(std::move(parts), what);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message({part(30, 0, 3, "s0"), part(30, 2, 3, "s2")}).find("shard 1/3 (images 12..23) is missing"),
              std::string::npos);
    EXPECT_NE(message({part(30, 0, 3, "s0"), part(30, 1, 3, "x"), part(30, 1, 3, "y"), part(30, 2, 3, "s2")})
                  .find("shard 1/3 is given twice: x and y"),
              std::string::npos);
    // Slices of different splits: a gap or an overlap in rows.
    EXPECT_NE(message({part(30, 0, 2, "half"), part(30, 2, 3, "third")}).find("images 16..23 are in no shard"),
              std::string::npos);
    EXPECT_NE(message({part(30, 0, 2, "half"), part(30, 1, 3, "mid"), part(30, 2, 3, "last")})
                  .find("shard mid (images 12..23) overlaps half (images up to 15)"),
              std::string::npos);
    Store other = part(30, 1, 3, "other");
    other.manifest.identity.model_sha256 = std::string(64, 'c');
    EXPECT_NE(message({part(30, 0, 3, "s0"), other, part(30, 2, 3, "s2")}).find("other does not belong with s0"),
              std::string::npos);
    Store bigger_batch = part(30, 1, 3, "b16");
    bigger_batch.manifest.batch_size = 16;
    EXPECT_NE(message({part(30, 0, 3, "s0"), bigger_batch, part(30, 2, 3, "s2")}).find("batch size: s0 was computed with 4; b16 with 16"),
              std::string::npos);
}

TEST(StoreFiles, WrittenAndReadBackWithTheirShapesChecked) {
    const fs::path dir = fs::temp_directory_path() / "camscope_store_unit";
    fs::remove_all(dir);
    Store s = part(10, 1, 2, "p");
    write_store(dir.string(), s.manifest, s.rows);
    Store back = read_store(dir.string());
    EXPECT_EQ(back.manifest.begin, s.manifest.begin);
    EXPECT_EQ(back.rows.indices, s.rows.indices);
    EXPECT_EQ(back.rows.logits, s.rows.logits);
    EXPECT_EQ(back.rows.cam_true, s.rows.cam_true);
    EXPECT_EQ(back.manifest.camscope_version, "0.1.0");
    // A logits file of another shape than the manifest says: the file and both shapes named.
    Store wrong = part(10, 0, 2, "q");
    write_store_files((dir / "w").string(), wrong.manifest, wrong.rows, 0, wrong.rows.n);
    fs::copy_file(dir / "logits.npy", dir / "w" / "logits.npy", fs::copy_options::overwrite_existing);
    try {
        read_store((dir / "w").string());
        ADD_FAILURE() << "read a store whose logits do not match its manifest";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("logits.npy: expected <f4 (8, 2)"), std::string::npos) << e.what();
    }
    fs::remove_all(dir);
}

TEST(StoreFiles, InMemoryRowsAreWhatTheFilesReadBackGive) {
    // store_rows (the pass's chunks kept in memory) against write_store_files + read_store (the
    // chunks in <out>.partial/): every field the report reads, rows [3, 9) of a part.
    const fs::path dir = fs::temp_directory_path() / "camscope_store_rows_unit";
    fs::remove_all(dir);
    Store s = part(24, 0, 1, "p");
    AnalysisInput& in = s.rows;
    for (std::size_t i = 0; i < in.n; ++i) {  // logits with distinct probabilities, a blank map
        in.logits[2 * i] = 0.37f * float(i) - 1.1f;
        in.logits[2 * i + 1] = -0.21f * float(i);
    }
    in.cam_pred[2 * 5] = 0.f;
    s.manifest.identity.model_path = "m.pt", s.manifest.identity.data_path = "d", s.manifest.identity.data_name = "set";
    s.manifest.identity.split = "test", s.manifest.identity.height = 8, s.manifest.identity.width = 8;
    s.manifest.model_kind = "traced", s.manifest.seconds = 1.25;
    write_store_files(dir.string(), s.manifest, in, 3, 9);
    const Store disk = read_store(dir.string());
    const Store mem = store_rows(s.manifest, in, 3, 9);
    EXPECT_EQ(store_manifest_json(mem.manifest), store_manifest_json(disk.manifest));
    const AnalysisInput &a = mem.rows, &b = disk.rows;
    EXPECT_EQ(a.n, 6u);
    EXPECT_EQ(a.n, b.n);
    EXPECT_EQ(a.indices, b.indices);
    EXPECT_EQ(a.indices.front(), 3);
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(a.logits, b.logits);
    EXPECT_EQ(a.probs, b.probs);
    EXPECT_EQ(a.cam_pred, b.cam_pred);
    EXPECT_EQ(a.cam_true, b.cam_true);
    EXPECT_EQ(a.num_classes, b.num_classes);
    EXPECT_EQ(a.fh * 100 + a.fw, b.fh * 100 + b.fw);
    EXPECT_EQ(a.class_names, b.class_names);
    EXPECT_EQ(a.model_path, "m.pt");
    EXPECT_EQ(a.model_path, b.model_path);
    EXPECT_EQ(a.model_kind, b.model_kind);
    EXPECT_EQ(a.dataset_path, b.dataset_path);
    EXPECT_EQ(a.dataset_name, b.dataset_name);
    EXPECT_EQ(a.split, b.split);
    EXPECT_EQ(a.layer, b.layer);
    EXPECT_EQ(a.method, b.method);
    EXPECT_EQ(a.input_h * 1000 + a.input_w, b.input_h * 1000 + b.input_w);
    EXPECT_EQ(a.timings.predict_s, b.timings.predict_s);
    fs::remove_all(dir);
}

TEST(Compare, McNemarAgainstTextbookValues) {
    // Agresti (2002), presidential approval: b = 86, c = 150. Uncorrected z² = 17.36; with
    // continuity correction (|b−c|−1)²/(b+c) = 63²/236. p values from Python (math.erfc, math.comb).
    EXPECT_NEAR(mcnemar_chi2(86, 150), 16.81779661016949, 1e-12);
    EXPECT_NEAR(chi2_1dof_p(mcnemar_chi2(86, 150)), 4.1145622813459415e-05, 1e-15);
    EXPECT_NEAR(mcnemar_exact_p(86, 150), 3.715936139571442e-05, 1e-15);
    // b = 1, c = 9: 2·(C(10,0) + C(10,1))/2^10 = 22/1024, by hand.
    EXPECT_NEAR(mcnemar_exact_p(1, 9), 22.0 / 1024.0, 1e-15);
    EXPECT_NEAR(mcnemar_exact_p(9, 1), 22.0 / 1024.0, 1e-15);
    EXPECT_EQ(mcnemar_exact_p(5, 5), 1.0);
    EXPECT_EQ(mcnemar_exact_p(0, 0), 1.0);
    EXPECT_EQ(mcnemar_chi2(0, 0), 0.0);
}

TEST(StoreFiles, MalformedManifestsAreRefusedNamingTheField) {
    const fs::path dir = fs::temp_directory_path() / "camscope_store_unit_bad";
    fs::remove_all(dir);
    Store s = part(10, 0, 1, "p");
    write_store(dir.string(), s.manifest, s.rows);
    const std::string good = [&] {
        std::ifstream f(dir / "manifest.json");
        return std::string(std::istreambuf_iterator<char>(f), {});
    }();
    const nlohmann::json j = nlohmann::json::parse(good);
    auto refused = [&](nlohmann::json bad, const std::string& words) {
        { std::ofstream(dir / "manifest.json") << bad.dump(); }
        try {
            read_store(dir.string());
            ADD_FAILURE() << "accepted: " << words;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("manifest.json"), std::string::npos) << e.what();
        }
    };
    auto with = [&](const nlohmann::json::json_pointer& at, nlohmann::json v) {
        nlohmann::json b = j;
        b[at] = std::move(v);
        return b;
    };
    using ptr = nlohmann::json::json_pointer;
    refused(with(ptr("/format"), "other"), "not a camscope store manifest");
    refused(with(ptr("/schema"), 2), "store schema 2, this camscope reads schema 1");
    refused(with(ptr("/batch_size"), 0), "'batch_size' must be positive");
    refused(with(ptr("/total"), -1), "'total' must be a non-negative integer");
    refused(with(ptr("/rows/end"), 11), "rows 0..11 do not lie within the analysis' 10 images");
    refused(with(ptr("/shard/k"), 3), "shard 3 of 1");
    refused(with(ptr("/class_names"), nlohmann::json::array({"a"})), "1 class names for 2 classes");
    refused(with(ptr("/identity/model/sha256"), "xyz"), "'model.sha256' must be 64 lower-case hex digits");
    nlohmann::json no_rows = j;
    no_rows.erase("rows");
    refused(no_rows, "'rows' is missing");
    // Rows that are not the manifest's: index.npy is checked row by row.
    nlohmann::json shifted = with(ptr("/rows/begin"), 1);
    shifted["rows"]["end"] = 11;
    shifted["total"] = 11;
    { std::ofstream(dir / "manifest.json") << shifted.dump(); }
    try {
        read_store(dir.string());
        ADD_FAILURE() << "accepted rows 1..10 for index.npy's 0..9";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("index.npy: row 0 is image 0, expected 1"), std::string::npos) << e.what();
    }
    fs::remove_all(dir);
}
