#pragma once
// What Explorer (server.hpp) keeps between requests, shared by its route files (server.cpp,
// live_cam.cpp). Internal to serve/.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "camscope/image/image.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/report/thumbs.hpp"
#include "camscope/serve/server.hpp"
#include "camscope/serve/tags.hpp"
#include "camscope/util/bounded_cache.hpp"
#include "camscope/util/error.hpp"

namespace camscope::serve {

/// A live CAM abandoned because its client went away (Explorer::handle's client_gone). An Error, so
/// the engine passes it on unchanged from the progress callback it is thrown from.
class ClientGone : public Error {
public:
    ClientGone() : Error("the client went away before the CAM was finished") {}
};

/// The image PNG-encoded, as an answer body.
inline std::string png_body(const Image& img) {
    const auto bytes = encode_png(img);
    return std::string(bytes.begin(), bytes.end());
}

struct Explorer::State {
    ExplorerData model;  // the explorer data, read (explorer_from_json): every route reads these fields
    const std::vector<std::string>& classes = model.classes;
    std::vector<std::string> methods;
    std::vector<LayerInfo> layers;  // candidates: 4-D outputs
    std::string default_layer, default_method;
    std::string explorer_body;      // /api/explorer, dumped once
    std::shared_ptr<const std::string> explorer_gzip;  // and compressed once
    std::map<std::string, std::shared_ptr<const std::string>, std::less<>> asset_gzip;  // the pages, compressed once
    RequestLimits limits;           // what parse_request checks a request against
    size_t n = 0;
    int k = 0;

    mutable std::mutex data_mu;  // Dataset::get is not promised to be thread-safe

    // Rendered CAM answers (a cached JSON answer keeps its first compute_ms), first in first out:
    // galleries ask for the same maps repeatedly. Their bodies count against the cap.
    struct BodyBytes {
        size_t operator()(const Response& r) const { return r.body.size(); }
    };
    static constexpr size_t kCacheBytes = 64u << 20;
    mutable BoundedCache<std::string, Response, BodyBytes> cache{kCacheBytes};

    // Thumbnail sheets (PNG), built on first request: one build per sheet at a time (thumb_build_mu),
    // then kept up to kThumbCacheBytes, the oldest dropped first.
    struct PngBytes {
        size_t operator()(const std::shared_ptr<const std::string>& png) const { return png->size(); }
    };
    static constexpr size_t kThumbCacheBytes = 128u << 20;
    ThumbLayout thumb_layout;
    mutable std::mutex thumb_build_mu;
    mutable BoundedCache<size_t, std::shared_ptr<const std::string>, PngBytes> thumb_cache{kThumbCacheBytes};

    std::unique_ptr<TagStore> tags;
};

}  // namespace camscope::serve
