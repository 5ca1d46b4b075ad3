"""camscope.explore in a remote notebook: the explorer served through a notebook server's proxy
(jupyter-server-proxy's `<base_url>proxy/<port>/`, here a small reverse proxy in this test that
forwards /user/x/proxy/PORT/... to 127.0.0.1:PORT with the request's own Host, as that proxy does).
The page, its scripts and styles and the API calls the app makes all answer under the prefix; the
HTML that explore() renders points at the proxy path when JUPYTERHUB_SERVICE_PREFIX is set; its
check script (run in node with a stub DOM) turns an unreachable frame into the explanation."""
import http.client
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import urllib.parse

import pytest

import camscope

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web", "explorer")
PREFIX = "/user/x/"
NOTEBOOK_PAGE = [""]  # the output HTML the proxy's notebook page shows
PLAYWRIGHT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser", "node_modules", "playwright-core")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class _Proxy(http.server.BaseHTTPRequestHandler):
    """PREFIX + proxy/<port>/<rest> -> http://127.0.0.1:<port>/<rest>, headers as sent (Host too);
    PREFIX + "lab": a notebook page showing the HTML in NOTEBOOK_PAGE[0]."""

    protocol_version = "HTTP/1.0"

    def _forward(self):
        if self.path == PREFIX + "lab":
            page = (f'<!doctype html><html><head><link rel="icon" href="data:,"></head>'
                    f"<body><h1>notebook</h1>{NOTEBOOK_PAGE[0]}</body></html>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        m = re.match(re.escape(PREFIX) + r"proxy/(\d+)(/.*)$", self.path)
        if not m:
            self.send_error(404, "not a proxy path")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        c = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=60)
        c.putrequest(self.command, m.group(2), skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in ("connection", "keep-alive", "content-length"):
                c.putheader(k, v)
        c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "keep-alive", "content-length", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        c.close()

    do_GET = do_POST = do_HEAD = _forward

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def proxy():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def report():
    model = camscope.Model(os.path.join(FIX, "tiny_cifar10_model.pt"))
    return camscope.analyze(model, camscope.Dataset(os.path.join(FIX, "tiny_cifar10")), progress=False)


def get(base, path, headers=None, method="GET", body=None):
    """(status, headers, body) of `path` at `base` (scheme://host:port), without following redirects."""
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    c.close()
    return out


def test_explore_under_jupyterhub_is_served_through_the_proxy(report, proxy, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    e = camscope.explore(report)
    try:
        assert e.frame_url == f"{PREFIX}proxy/{e.port}/"
        assert e.url == f"http://127.0.0.1:{e.port}/"  # the kernel's own address is unchanged
        frame = re.search(r'<iframe src="([^"]+)"', e._repr_html_()).group(1)
        assert frame == e.frame_url

        status, headers, page = get(proxy, frame)
        assert status == 200 and b"<html" in page.lower()
        assert "'self'" in headers["content-security-policy"]  # the proxy's page frames it from the same origin
        # Every asset the page loads and every API call the app makes resolves under the prefix.
        html = page.decode()
        assets = re.findall(r'<script src="([^"]+)"', html) + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
        assert "source.js" in assets and "style.css" in assets
        for a in assets:
            path = urllib.parse.urljoin(frame, a)
            assert path.startswith(frame), a
            st, _, _ = get(proxy, path)
            assert st == 200 or (a == "data.js" and st == 404), (a, st)
        summary = json.loads(get(proxy, urllib.parse.urljoin(frame, "api/summary"))[2])
        assert summary["overall"]["top1"] == pytest.approx(report.accuracy)
        explorer = json.loads(get(proxy, urllib.parse.urljoin(frame, "api/explorer"))[2])
        assert isinstance(explorer, dict) and explorer
        for api in ("api/tags", "api/image/0/input.png", "api/cam?image=0&target=pred"):
            st, h, _ = get(proxy, urllib.parse.urljoin(frame, api))
            assert st == 200, (api, st)
        assert h["content-type"].startswith("image/png")
    finally:
        e.stop()


def test_explorer_scripts_use_relative_urls():
    """The app's network code (source.js) asks for api/... relative to the page: no "/api" that
    would leave a proxy's prefix."""
    js = {n: open(os.path.join(WEB, n), encoding="utf-8").read() for n in os.listdir(WEB) if n.endswith(".js")}
    literals = {n: re.findall(r'"(/?api/[^"]*)"', s) for n, s in js.items()}
    assert any(literals.values())
    assert not [(n, u) for n, us in literals.items() for u in us if u.startswith("/")]
    assert not [n for n, s in js.items() if re.search(r"fetch\(\s*[\"'`]/", s)]


def test_proxied_host_needs_allow_hosts(report, proxy, monkeypatch):
    """The proxy forwards the notebook's Host: the explorer refuses a name it was not given (its
    DNS-rebinding check) and answers it once allowed; a POST from that page over https is its own."""
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    for var in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_HOST"):
        monkeypatch.delenv(var, raising=False)
    hub = {"Host": "hub.example"}
    e = camscope.explore(report)
    try:
        assert get(proxy, e.frame_url + "api/summary", hub)[0] == 403
    finally:
        e.stop()
    e = camscope.explore(report, allow_hosts=["hub.example"])
    try:
        assert get(proxy, e.frame_url + "api/summary", hub)[0] == 200
        assert get(proxy, e.frame_url + "api/summary", {"Host": "other.example"})[0] == 403
        body = json.dumps({"row": 3, "tags": ["x"]})
        post = dict(hub, **{"Content-Type": "application/json"})
        st, _, out = get(proxy, e.frame_url + "api/tags", dict(post, Origin="https://hub.example"), "POST", body)
        assert st == 200, out
        assert get(proxy, e.frame_url + "api/tags", dict(post, Origin="https://evil.example"), "POST", body)[0] == 403
    finally:
        e.stop()
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example/user/x/")
    e = camscope.explore(report)  # JupyterHub names its public host: allowed without a word
    try:
        assert get(proxy, e.frame_url + "api/summary", hub)[0] == 200
    finally:
        e.stop()


def test_url_choices(report, monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    e = camscope.explore(report)
    try:
        assert e.frame_url == e.url  # a local notebook: the loopback address, as before
        assert f'<iframe src="{e.url}"' in e._repr_html_()
    finally:
        e.stop()
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    for url, want in (("loopback", "http://127.0.0.1:{p}/"), ("/", "/proxy/{p}/"), ("/base", "/base/proxy/{p}/"),
                      ("https://nb.example/lab/{port}/x/", "https://nb.example/lab/{p}/x/")):
        e = camscope.explore(report, url=url)
        try:
            assert e.frame_url == want.format(p=e.port), url
            assert f"via {e.frame_url}" in repr(e) or url == "loopback"
        finally:
            e.stop()
    with pytest.raises(camscope.UsageError, match="url"):
        camscope.explore(report, url="")


NODE_STUB = """
const [script, answer] = [process.argv[1], process.argv[2]];
const div = { innerHTML: "<iframe>", children: [], appendChild(c) { this.children.push(c); } };
globalThis.document = { baseURI: "https://hub.example/user/x/lab", getElementById: () => div,
                        createElement: () => ({ style: {}, textContent: "" }) };
globalThis.location = { hostname: "hub.example" };
globalThis.window = { fetch: true };
globalThis.fetch = (url, opts) => { globalThis.asked = [url, opts.mode || "cors"];
  return answer === "down" ? Promise.reject(new TypeError("Failed to fetch"))
                           : Promise.resolve({ ok: answer === "200", status: Number(answer) }); };
eval(script);
setTimeout(() => console.log(JSON.stringify({ asked: globalThis.asked, html: div.innerHTML,
                                               said: div.children.map((c) => c.textContent) })), 20);
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node (the explorer's browser tests) is not installed")
def test_frame_check_script_explains_an_unreachable_frame(report, monkeypatch):
    """The script in explore()'s HTML, run against a stub page: a frame that answers stays; one that
    does not becomes one line naming the URL tried, the cause and camscope.widget(report)."""
    def run(html, answer):
        script = re.search(r"<script>(.*)</script>", html, re.S).group(1)
        out = subprocess.run(["node", "-e", NODE_STUB, script, answer], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    e = camscope.explore(report)
    e.stop()  # the script runs in the stub, not against the server
    html = e._repr_html_()
    proxied = f"https://hub.example{PREFIX}proxy/{e.port}/"
    ok = run(html, "200")
    assert ok["asked"] == [proxied, "cors"] and ok["said"] == [] and ok["html"] == "<iframe>"
    for answer, cause in (("403", 'allow_hosts=["hub.example"]'), ("404", "jupyter-server-proxy"), ("down", "does not answer")):
        said = run(html, answer)["said"]
        assert len(said) == 1 and proxied in said[0] and cause in said[0] and "camscope.widget(report)" in said[0], said

    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX")
    e = camscope.explore(report)
    e.stop()
    loop = e._repr_html_()
    assert run(loop, "200")["said"] == [] and run(loop, "200")["asked"] == [e.url, "no-cors"]
    said = run(loop, "down")["said"]
    assert len(said) == 1 and e.url in said[0] and 'url="/"' in said[0] and "camscope.widget(report)" in said[0]


BROWSER_SCRIPT = """
const [pw, chromiumPath, pageUrl, prefix] = process.argv.slice(1);
const { chromium } = await import(pw + "/index.mjs");
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox"] });
const out = { requests: [] };
try {
  const page = await browser.newPage();
  page.on("request", (r) => out.requests.push(r.url()));
  await page.goto(pageUrl);
  if (process.argv[5] === "down") {
    await page.waitForSelector("p", { timeout: 30000 });
    out.said = await page.$eval("div[id^=camscope-explorer] p", (p) => p.textContent);
  } else {
    const frame = await (await page.waitForSelector("iframe", { timeout: 30000 })).contentFrame();
    await frame.waitForFunction(() => document.body.dataset.ready === "live", null, { timeout: 60000 });
    out.cells = await frame.$$eval("td.cell", (tds) => tds.length);
    const image = page.waitForResponse((r) => r.request().resourceType() === "image" && r.status() === 200,
                                       { timeout: 60000 });
    await frame.evaluate(() => { location.hash = "#grid"; });
    out.image = (await image).url();  // a thumbnail (sprite sheet or image) the grid draws
    await page.waitForTimeout(500);  // the check script's answer
    out.frames = await page.$$eval("div[id^=camscope-explorer] iframe", (f) => f.length);
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None or not os.path.isdir(PLAYWRIGHT) or not os.path.exists(CHROMIUM),
                    reason="node, tests/browser's playwright-core (npm ci --prefix tests/browser) or chromium missing")
def test_explorer_in_a_browser_through_the_proxy(report, proxy, monkeypatch):
    """Headless chromium opens a notebook page (under the prefix) showing explore()'s HTML: the
    explorer loads in the frame through the proxy, draws its matrix and images, every request stays
    under the notebook server's prefix, and the check script leaves the frame. Stopped, the frame
    becomes the explanation."""
    def browse(mode):
        r = subprocess.run(["node", "--input-type=module", "-e", BROWSER_SCRIPT, os.path.abspath(PLAYWRIGHT), CHROMIUM,
                            proxy + PREFIX + "lab", PREFIX, mode], capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        return json.loads(r.stdout.strip().splitlines()[-1])

    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    e = camscope.explore(report)
    try:
        NOTEBOOK_PAGE[0] = e._repr_html_()
        out = browse("up")
        assert out["cells"] > 0 and out["frames"] == 1
        http_requests = [u for u in out["requests"] if u.startswith("http")]
        assert out["image"].startswith(proxy + e.frame_url) and "/api/" in out["image"], out["image"]
        assert all(u.startswith(proxy + PREFIX) for u in http_requests), http_requests
    finally:
        e.stop()
    out = browse("down")
    assert f"{proxy}{PREFIX}proxy/{e.port}/" in out["said"] and "camscope.widget(report)" in out["said"]
