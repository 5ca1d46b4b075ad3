#pragma once
// The request parsing of `camscope serve`, torch-free (compiled into camscope_core, so the fuzz
// build can reach it): a percent-decoded path and its query -> a Request naming the route and its
// validated arguments. Numbers are read with std::from_chars (the whole value, nothing else, no
// sign); every refusal is a RequestError whose status the server answers with (400: a malformed
// parameter, an unknown class name, method or layer; 404: an unknown route, an image or class
// index out of range), and whose message names the parameter and the value. Nothing else is thrown.
//
// The parser knows the limits (row count, class names, methods, layers), not the data: a target
// `pred` or `true` is returned as such and resolved by the server from the image's row.
#include <cstddef>
#include <map>
#include <stdexcept>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace camscope::serve {

using Query = std::map<std::string, std::string>;

/// A request the API refuses; the server answers {"error": what()} with `status` (400 or 404).
class RequestError : public std::runtime_error {
public:
    RequestError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int status() const { return status_; }

private:
    int status_;
};

/// What a request is checked against.
struct RequestLimits {
    std::size_t images = 0;            // analysed rows: an image index lies in [0, images)
    std::vector<std::string> classes;  // class names (data/class_ref.hpp: exact, or unique ignoring case); indices [0, size)
    std::vector<std::string> methods;  // accepted CAM methods (exact names)
    std::vector<std::string> layers;   // accepted layer paths (exact)
    std::string default_method, default_layer;
    std::size_t thumb_sheets = 0;      // thumbnail sprite sheets: /api/thumbs/{k}.png with k in [0, thumb_sheets)
    /// The most channels a Score-CAM / Ablation-CAM may perturb (one forward each): a request's
    /// max_channels above it, or 0 (all), is lowered to it. 0 = no cap.
    int max_channels = 0;
    /// Finer-CAM's alpha when a request names none: the results' (RunIdentity's), so that the live
    /// maps are the report's.
    double default_alpha = 1.0;
};

/// The CAM methods whose cost grows with the layer's channels (one forward per channel), to which
/// max_channels applies: scorecam and ablationcam.
bool perturbs_channels(std::string_view method);

enum class Route {
    Asset,       // an embedded web asset by exact name (Request::asset; the server says 404 if none)
    DataJs,      // /data.js
    Explorer,    // /api/explorer
    Summary,     // /api/summary
    Classes,     // /api/classes
    Methods,     // /api/methods
    Layers,      // /api/layers
    Confusion,   // /api/confusion
    Class,       // /api/class/{c}  (a name may hold '/': T-shirt%2Ftop)
    Cell,        // /api/cell/{true}/{pred}?offset=&limit=
    Image,       // /api/image/{i}
    ImageInput,  // /api/image/{i}/input.png
    Cam,         // /api/cam?image=&target=&method=&layer=&format=&view=&max_channels=&contrast=&alpha=
    Diff,        // /api/diff?image=&a=&b=&method=&layer=&format=&view=&max_channels=&contrast=&alpha=
    Tags,        // /api/tags (GET; POST with a JSON body: tags.hpp parse_tag_update)
    Thumbs,      // /api/thumbs/{k}.png (Request::sheet)
};

/// A CAM target: the row's prediction, its true label, or a class index.
struct Target {
    enum Kind { Pred, True, Class } kind = Pred;
    int cls = -1;  // Kind::Class: in [0, classes)
    int resolve(int pred, int label) const { return kind == Pred ? pred : kind == True ? label : cls; }
};

struct Request {
    Route route = Route::Asset;
    std::string asset;             // Asset: "index.html" for "/", else the path without its '/'
    int cls = -1;                  // Class
    int true_cls = -1, pred_cls = -1;  // Cell
    int offset = 0, limit = 50;    // Cell: offset in [0, 2^30], limit in [0, 1000] (larger values clamped)
    std::size_t image = 0;         // Image, ImageInput, Cam, Diff: in [0, images)
    std::size_t sheet = 0;         // Thumbs: in [0, thumb_sheets)
    Target target;                 // Cam (default pred)
    Target a, b{Target::True, -1}; // Diff (defaults pred, true)
    std::string method, layer;     // Cam, Diff: one of the limits' (defaults: the limits' defaults)
    bool json = false;             // Cam, Diff: format=json (default png)
    /// Cam, Diff (png): view=heatmap gives the colour map alone at the image's size — the JET heat
    /// layer overlay_cam blends (a difference map is a colour map already) — for a client that lays it
    /// over the input itself (the explorer's opacity slider); view=overlay (default) the blended PNG.
    bool heatmap = false;
    /// Cam, Diff: in [0, 2^20] (larger values clamped); methods other than perturbs_channels(): 0;
    /// those: at most RequestLimits::max_channels when that is set (0, all channels, too).
    int max_channels = 0;
    /// Cam and Diff with method finercam: contrast=pred|true|class (the class to explain the target
    /// — each of a and b for a difference — against; absent: the 3 classes with the closest logits)
    /// and alpha (finite, in [0, 100]; default RequestLimits::default_alpha). Other methods: 400
    /// when either is given.
    std::optional<Target> contrast;
    double alpha = 1.0;
};

/// `path` percent-decoded, as HTTP servers hand it over; in `query` an empty value counts as absent.
/// Throws RequestError only.
Request parse_request(const std::string& path, const Query& query, const RequestLimits& limits);

/// The DNS-rebinding check of every request, whatever address the server is bound to: the Host
/// header (`header`, "" if absent) must name this server by an address literal ("127.0.0.1:8765",
/// "[::1]:8765", "192.168.1.5": no name an attacker's DNS could point here) or by one of `names`
/// (the server passes "localhost", the --host it was given and every --allow-host; compared
/// case-insensitively), with an optional port (1 to 5 digits, a value in 1..65535) and nothing
/// else ("127.0.0.1:80@evil.com", "localhost:99999", "localhost:0" are refused). A request
/// without Host (HTTP/1.0) passes: browsers always send one.
bool host_allowed(std::string_view header, const std::vector<std::string>& names);

/// Whether a Content-Type header value is JSON: the media type application/json (type and subtype
/// compared case-insensitively, spaces around it allowed) with at most the parameter charset=utf-8
/// (value case-insensitive, quoted or not). "application/jsonfoo", "application/json; charset=latin1",
/// "text/plain" and "" are not.
bool is_json_content_type(std::string_view value);

/// A raw request target ("/api/cam?image=3&target=cat") split as cpp-httplib does: the path
/// percent-decoded, the query's keys and values percent-decoded with '+' as a space, the first
/// value of a repeated key kept. A malformed escape is kept literally. Never throws.
std::pair<std::string, Query> split_target(std::string_view target);

/// The non-negative decimal integer `v` is, all of it (no sign, space or suffix); false otherwise.
/// `overflow` is set when `v` is all digits but larger than the type holds.
bool parse_unsigned(std::string_view v, unsigned long long& out, bool& overflow);

}  // namespace camscope::serve
