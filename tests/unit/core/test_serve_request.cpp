// parse_request / split_target: the request parsing of `camscope serve` (untrusted bytes), torch-free.
#include <gtest/gtest.h>

#include "camscope/serve/request.hpp"

using namespace camscope::serve;

namespace {

RequestLimits limits() {
    RequestLimits l;
    l.images = 200;
    l.classes = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
    l.methods = {"gradcam", "gradcam++", "scorecam"};
    l.layers = {"conv1", "layer1.0"};
    l.default_method = "gradcam";
    l.default_layer = "conv1";
    l.thumb_sheets = 2;
    return l;
}

/// The RequestError of a request ({0, ""} if it parses).
std::pair<int, std::string> error_of(const std::string& target) {
    const auto [path, query] = split_target(target);
    try {
        parse_request(path, query, limits());
    } catch (const RequestError& e) {
        return {e.status(), e.what()};
    }
    return {0, ""};
}

Request parse(const std::string& target) {
    const auto [path, query] = split_target(target);
    return parse_request(path, query, limits());
}

bool mentions(const std::string& message, const std::string& word) { return message.find(word) != std::string::npos; }

}  // namespace

TEST(ServeRequest, RoutesAndArguments) {
    EXPECT_EQ(parse("/").route, Route::Asset);
    EXPECT_EQ(parse("/").asset, "index.html");
    EXPECT_EQ(parse("/app.js").asset, "app.js");
    EXPECT_EQ(parse("/data.js").route, Route::DataJs);
    EXPECT_EQ(parse("/api/explorer").route, Route::Explorer);
    EXPECT_EQ(parse("/api/summary").route, Route::Summary);
    EXPECT_EQ(parse("/api/methods").route, Route::Methods);
    const Request img = parse("/api/image/199/input.png");
    EXPECT_EQ(img.route, Route::ImageInput);
    EXPECT_EQ(img.image, 199u);
    EXPECT_EQ(parse("/api/image/007").image, 7u);
    const Request cell = parse("/api/cell/3/Dog?offset=5&limit=7");
    EXPECT_EQ(cell.route, Route::Cell);
    EXPECT_EQ(cell.true_cls, 3);
    EXPECT_EQ(cell.pred_cls, 5);
    EXPECT_EQ(cell.offset, 5);
    EXPECT_EQ(cell.limit, 7);
    const Request cam = parse("/api/cam?image=4&target=true&method=scorecam&layer=layer1.0&format=json&max_channels=64");
    EXPECT_EQ(cam.route, Route::Cam);
    EXPECT_EQ(cam.image, 4u);
    EXPECT_EQ(cam.target.kind, Target::True);
    EXPECT_EQ(cam.target.resolve(1, 2), 2);
    EXPECT_EQ(cam.method, "scorecam");
    EXPECT_EQ(cam.layer, "layer1.0");
    EXPECT_TRUE(cam.json);
    EXPECT_EQ(cam.max_channels, 64);
    const Request def = parse("/api/cam?image=0&target=&method=");  // empty values count as absent
    EXPECT_EQ(def.target.kind, Target::Pred);
    EXPECT_EQ(def.method, "gradcam");
    EXPECT_EQ(def.layer, "conv1");
    EXPECT_FALSE(def.json);
    const Request diff = parse("/api/diff?image=1&a=9");
    EXPECT_EQ(diff.route, Route::Diff);
    EXPECT_EQ(diff.a.resolve(0, 0), 9);
    EXPECT_EQ(diff.b.kind, Target::True);
}

TEST(ServeRequest, FinerCamContrastAndAlpha) {
    RequestLimits l = limits();
    l.methods.push_back("finercam");
    auto p = [&](const std::string& target) {
        auto [path, query] = split_target(target);
        return parse_request(path, query, l);
    };
    const Request r = p("/api/cam?image=1&method=finercam&contrast=true&alpha=0.25");
    ASSERT_TRUE(r.contrast.has_value());
    EXPECT_EQ(r.contrast->kind, Target::True);
    EXPECT_EQ(r.alpha, 0.25);
    EXPECT_FALSE(p("/api/cam?image=1&method=finercam").contrast.has_value());
    EXPECT_EQ(p("/api/cam?image=1&method=finercam").alpha, 1.0);
    for (const char* bad : {"/api/cam?image=1&method=finercam&alpha=nan", "/api/cam?image=1&method=finercam&alpha=inf",
                            "/api/cam?image=1&method=finercam&alpha=101", "/api/cam?image=1&method=finercam&alpha=0.5x",
                            "/api/cam?image=1&method=gradcam&contrast=true", "/api/cam?image=1&method=gradcam&alpha=2"}) {
        try {
            p(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const RequestError& e) {
            EXPECT_EQ(e.status(), 400) << bad;
        }
    }
}

TEST(ServeRequest, FinerCamAlphaDefaultsToTheResults) {
    // serve --results: a Finer-CAM that names no alpha uses the results' (RequestLimits::default_alpha).
    RequestLimits l = limits();
    l.methods.push_back("finercam");
    l.default_alpha = 0.5;
    auto p = [&](const std::string& target) {
        auto [path, query] = split_target(target);
        return parse_request(path, query, l);
    };
    EXPECT_EQ(p("/api/cam?image=1&method=finercam").alpha, 0.5);
    EXPECT_EQ(p("/api/diff?image=1&method=finercam").alpha, 0.5);
    EXPECT_EQ(p("/api/cam?image=1&method=finercam&alpha=1").alpha, 1.0);  // named: as named
    EXPECT_EQ(p("/api/cam?image=1&method=gradcam").alpha, 1.0);           // other methods: no alpha, no 400
}

TEST(ServeRequest, DiffTakesFinerCamContrastAndAlphaAsCamDoes) {
    RequestLimits l = limits();
    l.methods.push_back("finercam");
    auto p = [&](const std::string& target) {
        auto [path, query] = split_target(target);
        return parse_request(path, query, l);
    };
    const Request d = p("/api/diff?image=1&method=finercam&contrast=3&alpha=0.5");
    ASSERT_TRUE(d.contrast.has_value());
    EXPECT_EQ(d.contrast->kind, Target::Class);
    EXPECT_EQ(d.contrast->cls, 3);
    EXPECT_EQ(d.alpha, 0.5);
    EXPECT_EQ(p("/api/diff?image=1&method=finercam").alpha, 1.0);
    // Refused as for api/cam (they were silently ignored here).
    for (const char* bad : {"/api/diff?image=1&method=gradcam&alpha=2", "/api/diff?image=1&method=gradcam&contrast=true",
                            "/api/diff?image=1&method=finercam&alpha=101", "/api/diff?image=1&method=finercam&contrast=nope"}) {
        try {
            p(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const RequestError& e) {
            EXPECT_EQ(e.status(), 400) << bad;
        }
    }
}

TEST(ServeRequest, PerturbationMethodsAreCappedAtTheServersMaxChannels) {
    RequestLimits l = limits();
    l.methods.push_back("ablationcam");
    l.max_channels = 64;
    auto mc = [&](const std::string& target) {
        auto [path, query] = split_target(target);
        return parse_request(path, query, l).max_channels;
    };
    EXPECT_EQ(mc("/api/cam?image=1&method=scorecam"), 64);                   // none asked: the cap
    EXPECT_EQ(mc("/api/cam?image=1&method=scorecam&max_channels=0"), 64);    // "all": the cap
    EXPECT_EQ(mc("/api/cam?image=1&method=scorecam&max_channels=9"), 9);     // fewer: as asked
    EXPECT_EQ(mc("/api/cam?image=1&method=ablationcam&max_channels=65"), 64);
    EXPECT_EQ(mc("/api/diff?image=1&method=scorecam&max_channels=99999999999"), 64);
    EXPECT_EQ(mc("/api/cam?image=1&method=gradcam&max_channels=9"), 0);      // not a perturbation method
    l.max_channels = 0;  // no cap
    EXPECT_EQ(mc("/api/cam?image=1&method=scorecam"), 0);
    EXPECT_EQ(mc("/api/cam?image=1&method=scorecam&max_channels=1000"), 1000);
    EXPECT_TRUE(perturbs_channels("scorecam"));
    EXPECT_TRUE(perturbs_channels("ablationcam"));
    EXPECT_FALSE(perturbs_channels("gradcam"));
    EXPECT_FALSE(perturbs_channels("finercam"));
}

TEST(ServeRequest, JsonContentTypeIsAMediaTypeNotAPrefix) {
    for (const char* ok : {"application/json", "Application/JSON", "application/json; charset=utf-8",
                           "application/json;charset=UTF-8", " application/json ", "application/json; charset=\"utf-8\""})
        EXPECT_TRUE(is_json_content_type(ok)) << ok;
    for (const char* no : {"", "application/jsonfoo", "application/json-patch+json", "application/jsonx; charset=utf-8",
                           "text/plain", "application/json; charset=latin1", "application/json; boundary=x",
                           "application/json;", "application/json; charset=utf-8; x=y", "text/json", "application/*"})
        EXPECT_FALSE(is_json_content_type(no)) << no;
}

TEST(ServeRequest, ClassByIndexOrNameCaseInsensitive) {
    EXPECT_EQ(parse("/api/class/CAT").cls, 3);
    EXPECT_EQ(parse("/api/class/Truck").cls, 9);
    EXPECT_EQ(parse("/api/class/0").cls, 0);
    EXPECT_EQ(parse("/api/cam?image=0&target=HoRsE").target.resolve(0, 0), 7);
    EXPECT_EQ(parse("/api/cam?image=0&target=2").target.resolve(0, 0), 2);
    auto [st, msg] = error_of("/api/class/unicorn");
    EXPECT_EQ(st, 400);
    EXPECT_TRUE(mentions(msg, "unicorn")) << msg;
    std::tie(st, msg) = error_of("/api/cam?image=0&target=unicorn");
    EXPECT_EQ(st, 400);
    EXPECT_TRUE(mentions(msg, "'target'") && mentions(msg, "unicorn")) << msg;
    EXPECT_EQ(error_of("/api/class/10").first, 404);                    // index out of range
    EXPECT_EQ(error_of("/api/cam?image=0&target=10").first, 400);       // a bad parameter
    EXPECT_EQ(error_of("/api/cam?image=0&target=Pred").first, 400);     // pred/true are exact
}

TEST(ServeRequest, OverflowingNumbers) {
    auto [st, msg] = error_of("/api/image/99999999999");
    EXPECT_EQ(st, 404);
    EXPECT_TRUE(mentions(msg, "99999999999")) << msg;
    EXPECT_EQ(error_of("/api/image/99999999999999999999999999999999").first, 404);  // past 64 bits
    EXPECT_EQ(error_of("/api/cam?image=18446744073709551616").first, 404);
    EXPECT_EQ(error_of("/api/image/200").first, 404);
    EXPECT_EQ(error_of("/api/class/4294967299").first, 404);  // would wrap to 3 as a 32-bit int
    EXPECT_EQ(error_of("/api/cell/0/99999999999999999999").first, 404);
    EXPECT_EQ(error_of("/api/cam?image=0&target=4294967299").first, 400);
    // The wording of data/class_ref, the CLI's and Python's too, after the parameter's name.
    std::tie(st, msg) = error_of("/api/cam?image=0&target=99999999999");
    EXPECT_EQ(st, 400);
    EXPECT_EQ(msg, "parameter 'target': class '99999999999' out of range: the model has 10 classes (expected pred, "
                   "true, a class index 0 to 9 or a class name)");
    // Counts clamp, however many digits.
    EXPECT_EQ(parse("/api/cell/0/0?limit=99999999999999999999").limit, 1000);
    EXPECT_EQ(parse("/api/cell/0/0?offset=2147483648").offset, 1 << 30);
    EXPECT_EQ(parse("/api/cam?image=0&method=scorecam&max_channels=99999999999").max_channels, 1 << 20);
}

TEST(ServeRequest, TrailingGarbageAndSigns) {
    for (const std::string t : {"/api/image/12abc", "/api/image/1e3", "/api/image/0x10", "/api/image/ 1",
                                "/api/image/1%20", "/api/image/+1", "/api/image/1.0"}) {
        const auto [st, msg] = error_of(t);
        EXPECT_EQ(st, 400) << t;
        EXPECT_TRUE(mentions(msg, "'image'")) << t << ": " << msg;
    }
    auto [st, msg] = error_of("/api/cam?image=0&max_channels=1e9x");
    EXPECT_EQ(st, 400);
    EXPECT_TRUE(mentions(msg, "max_channels") && mentions(msg, "1e9x")) << msg;
    EXPECT_EQ(error_of("/api/cam?image=12abc").first, 400);
    EXPECT_EQ(error_of("/api/cell/0/1?limit=5x").first, 400);
    EXPECT_EQ(error_of("/api/cell/0/1?offset=0.5").first, 400);
    EXPECT_EQ(error_of("/api/cam?image=0&target=3x").first, 400);
    EXPECT_EQ(error_of("/api/class/3x").first, 400);  // not a number, not a name
}

TEST(ServeRequest, NegativeNumbers) {
    EXPECT_EQ(error_of("/api/image/-1").first, 400);
    EXPECT_EQ(error_of("/api/cam?image=-1").first, 400);
    EXPECT_EQ(error_of("/api/cell/0/1?offset=-5").first, 400);
    EXPECT_EQ(error_of("/api/cam?image=0&max_channels=-1").first, 400);
    EXPECT_EQ(error_of("/api/class/-1").first, 400);
    EXPECT_EQ(error_of("/api/cam?image=0&target=-3").first, 400);
}

TEST(ServeRequest, OtherBadParameters) {
    EXPECT_EQ(error_of("/api/cam").first, 400);  // image required
    EXPECT_EQ(error_of("/api/image/").first, 400);
    auto [st, msg] = error_of("/api/cam?image=0&method=nope");
    EXPECT_EQ(st, 400);
    EXPECT_TRUE(mentions(msg, "nope") && mentions(msg, "gradcam++")) << msg;  // lists the methods
    EXPECT_EQ(error_of("/api/cam?image=0&layer=fc").first, 400);
    EXPECT_EQ(error_of("/api/cam?image=0&format=gif").first, 400);
    EXPECT_EQ(error_of("/api/diff?image=0&b=nope").first, 400);
    // A huge value is quoted shortened.
    std::tie(st, msg) = error_of("/api/cam?image=0&method=" + std::string(10000, 'x'));
    EXPECT_EQ(st, 400);
    EXPECT_LT(msg.size(), 400u);
    EXPECT_TRUE(mentions(msg, "10000 bytes")) << msg;
}

TEST(ServeRequest, UnknownRoutes) {
    for (const std::string t : {"/api/", "/api/nope", "/api/summary/extra", "/api/image/0/other.png", "/api/cell/0",
                                "/api/cam/0", "/api//summary", "/api/image/0/input.png/"}) {
        EXPECT_EQ(error_of(t).first, 404) << t;
    }
    EXPECT_EQ(error_of("").first, 404);
    EXPECT_EQ(error_of("relative").first, 404);
}

TEST(ServeRequest, PercentEncodedPathEscapes) {
    // Decoded first (as cpp-httplib does), then matched: a dot-dot never reaches a file, and no
    // encoded route is read as another route.
    EXPECT_EQ(split_target("/%2e%2e/%2E%2E/etc/passwd").first, "/../../etc/passwd");
    EXPECT_EQ(parse("/%2e%2e/%2e%2e/etc/passwd").asset, "../../etc/passwd");  // no such embedded asset: 404
    for (const std::string t : {"/api/%2e%2e/%2e%2e/CMakeLists.txt", "/api/image/0%2f..%2f..%2fetc%2fpasswd",
                                "/api/image/0/..%2finput.png", "/api/%2e%2e%2fsummary", "/api/summary%00"}) {
        EXPECT_EQ(error_of(t).first, 404) << t;
    }
    EXPECT_EQ(parse("/api/image/%31%32").image, 12u);  // an encoded digit is a digit
    EXPECT_EQ(parse("/api/class/c%41t").cls, 3);
    EXPECT_EQ(error_of("/api/image/1%00").first, 400);  // a NUL is trailing garbage
    // Malformed escapes are kept literally.
    EXPECT_EQ(split_target("/a%zz%4").first, "/a%zz%4");
    EXPECT_EQ(error_of("/api/image/%3").first, 400);
    // Query: '+' is a space, first value of a repeated key wins, keys are decoded too.
    const auto [path, q] = split_target("/api/cam?image=1&image=2&tar%67et=a+b&flag&=x");
    EXPECT_EQ(path, "/api/cam");
    EXPECT_EQ(q.at("image"), "1");
    EXPECT_EQ(q.at("target"), "a b");
    EXPECT_EQ(q.at("flag"), "");
}

TEST(ServeRequest, ParseUnsigned) {
    unsigned long long v = 0;
    bool overflow = false;
    EXPECT_TRUE(parse_unsigned("18446744073709551615", v, overflow));
    EXPECT_FALSE(overflow);
    EXPECT_EQ(v, 18446744073709551615ull);
    EXPECT_TRUE(parse_unsigned("18446744073709551616", v, overflow));
    EXPECT_TRUE(overflow);
    EXPECT_FALSE(parse_unsigned("18446744073709551616x", v, overflow));
    EXPECT_FALSE(parse_unsigned("", v, overflow));
    EXPECT_FALSE(parse_unsigned("-0", v, overflow));
}

TEST(ServeRequest, EmptyLimitsAcceptNoIndex) {
    const RequestLimits none;
    EXPECT_THROW(parse_request("/api/image/0", {}, none), RequestError);
    EXPECT_THROW(parse_request("/api/class/0", {}, none), RequestError);
    EXPECT_THROW(parse_request("/api/cam", {{"image", "0"}}, none), RequestError);
    EXPECT_EQ(parse_request("/api/summary", {}, none).route, Route::Summary);
}

TEST(ServeRequest, ClassNamesWithASlash) {
    // Fashion-MNIST's "T-shirt/top": the client sends %2F, the HTTP server decodes it before routing.
    RequestLimits l = limits();
    l.classes = {"T-shirt/top", "Trouser", "a/b/c"};
    auto parse_with = [&](const std::string& target) {
        const auto [path, query] = split_target(target);
        return parse_request(path, query, l);
    };
    EXPECT_EQ(parse_with("/api/class/T-shirt%2Ftop").cls, 0);
    EXPECT_EQ(parse_with("/api/class/t-shirt%2FTOP").cls, 0);
    EXPECT_EQ(parse_with("/api/class/a%2Fb%2Fc").cls, 2);
    const Request cell = parse_with("/api/cell/T-shirt%2Ftop/Trouser");
    EXPECT_EQ(cell.true_cls, 0);
    EXPECT_EQ(cell.pred_cls, 1);
    const Request cell2 = parse_with("/api/cell/Trouser/a%2Fb%2Fc?limit=3");
    EXPECT_EQ(cell2.true_cls, 1);
    EXPECT_EQ(cell2.pred_cls, 2);
    EXPECT_EQ(cell2.limit, 3);
    try {
        parse_with("/api/class/T-shirt%2Fbottom");
        ADD_FAILURE();
    } catch (const RequestError& e) {
        EXPECT_EQ(e.status(), 400);
        EXPECT_TRUE(mentions(e.what(), "T-shirt/bottom")) << e.what();
    }
    try {
        parse_with("/api/cell/x/y/z");
        ADD_FAILURE();
    } catch (const RequestError& e) {
        EXPECT_EQ(e.status(), 400);
    }
}

TEST(ServeRequest, HostHeaderAllowList) {
    const std::vector<std::string> names{"localhost", "127.0.0.2", "my.box"};
    for (const char* ok : {"", "localhost", "LOCALHOST", "localhost:8765", "LocalHost:1", "127.0.0.1", "127.0.0.1:8765",
                           "127.0.0.2:80", "[::1]", "[::1]:8765", "192.168.1.5:8765", "my.box", "MY.BOX:65535", "localhost:08765"})
        EXPECT_TRUE(host_allowed(ok, names)) << ok;
    for (const char* no : {"evil.com", "evil.com:8765", "127.0.0.1:80@evil.com", "localhost:80@evil.com",
                           "localhost.evil.com", "localhost:", "localhost:8x", "localhost:123456", "[::1]x", "[::1",
                           "[evil.com]:80", "127.0.0.1.evil.com", "my.box.evil.com", " localhost", "localhost ",
                           "127.1", "0x7f000001", ":8765", "localhost:99999", "localhost:65536", "localhost:0",
                           "localhost:00000", "127.0.0.1:70000", "[::1]:99999", "[::1]:0", "my.box:+80", "localhost:-1"})
        EXPECT_FALSE(host_allowed(no, names)) << no;
}

TEST(ServeRequest, ThumbnailSheetsAndTags) {
    EXPECT_EQ(parse("/api/tags").route, Route::Tags);
    const Request t = parse("/api/thumbs/1.png");
    EXPECT_EQ(t.route, Route::Thumbs);
    EXPECT_EQ(t.sheet, 1u);
    EXPECT_EQ(parse("/api/thumbs/0.png").sheet, 0u);
    EXPECT_EQ(parse("/api/thumbs/001.png").sheet, 1u);
    // Sheets past the last, other names, signs and overflow: 404 naming what exists.
    auto [st, msg] = error_of("/api/thumbs/2.png");
    EXPECT_EQ(st, 404);
    EXPECT_TRUE(mentions(msg, "there are 2")) << msg;
    EXPECT_EQ(error_of("/api/thumbs/99999999999999999999999.png").first, 404);
    for (const std::string bad : {"/api/thumbs/", "/api/thumbs/.png", "/api/thumbs/-1.png", "/api/thumbs/+1.png",
                                  "/api/thumbs/1.jpg", "/api/thumbs/1", "/api/thumbs/1.png/x", "/api/thumbs/0x1.png",
                                  "/api/thumbs", "/api/tags/1"})
        EXPECT_EQ(error_of(bad).first, 404) << bad;
    EXPECT_EQ(parse("/api/thumbs/%31.png?x=1").sheet, 1u);  // decoded first, as the HTTP server does
    RequestLimits none = limits();
    none.thumb_sheets = 0;
    EXPECT_THROW(parse_request("/api/thumbs/0.png", {}, none), RequestError);
}
