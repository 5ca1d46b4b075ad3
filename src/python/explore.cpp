// camscope._camscope: _Explorer, the explorer's server (serve/) of a report on a background thread
// of this process, started by explore() once it listens and stopped by stop() or at its end.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "camscope/engine/engine.hpp"
#include "camscope/pipeline/analyze.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/serve/server.hpp"
#include "camscope/util/error.hpp"
#include "common.hpp"

namespace camscope::bindings {

namespace {

struct PyExplorer {
    std::shared_ptr<PyModel> model;
    std::shared_ptr<PyDataset> data;
    std::unique_ptr<serve::Explorer> explorer;
    std::shared_ptr<std::atomic<bool>> stop = std::make_shared<std::atomic<bool>>(false);
    std::thread thread;
    std::string url;
    int port = 0;
    std::mutex join_mu;  // one joiner at a time: stop() from several Python threads, the destructor
    std::atomic<bool> ended{false};  // the server thread has returned (stopped, or failed after start)

    /// Stops the server and returns once it has stopped; from any number of threads at once, any
    /// number of times (a second caller waits for the first one's join, then finds nothing to do).
    void halt() {
        stop->store(true);
        py::gil_scoped_release release;  // before join_mu: its holder may wait for the GIL otherwise
        std::lock_guard lock(join_mu);
        if (thread.joinable()) thread.join();
    }
    bool running() const { return !stop->load() && !ended.load(); }
    ~PyExplorer() {
        stop->store(true);
        std::lock_guard lock(join_mu);
        if (thread.joinable()) thread.join();
    }
};

}  // namespace

void bind_explore(py::module_& mod) {
    py::class_<PyExplorer, std::shared_ptr<PyExplorer>>(mod, "_Explorer")
        .def_readonly("url", &PyExplorer::url)
        .def_readonly("port", &PyExplorer::port)
        .def("stop", &PyExplorer::halt)
        .def("running", &PyExplorer::running);

    mod.def(
        "explore",
        [](std::shared_ptr<PyReport> rep, const std::string& host, int port, const std::string& frame_ancestors,
           const std::vector<std::string>& allow_hosts) {
            serve::check_frame_ancestors(frame_ancestors);  // a UsageError here, before anything starts
            auto e = std::make_shared<PyExplorer>();
            e->model = rep->model;
            e->data = rep->data;
            {
                ScopedThreads threads(rep->model->threads);
                py::gil_scoped_release release;
                nlohmann::json data = explorer_data(rep->an->report, rep->an->input);
                e->explorer = std::make_unique<serve::Explorer>(*rep->model->m, *rep->data->ds, rep->spec, std::move(data),
                                                                rep->model->m->layers(rep->spec), "",
                                                                serve::kServeMaxChannels,
                                                                rep->an->manifest.identity.cam.alpha);
            }
            serve::ServeOptions so;
            so.host = host;
            so.port = port;
            so.http_threads = 4;
            so.frame_ancestors = frame_ancestors;  // the notebook's IFrame (camscope.explore)
            so.allow_hosts = allow_hosts;  // a notebook server's proxy forwards the notebook's Host
            so.stop = e->stop;
            // Shared with the server thread, which outlives this call.
            struct Handshake {
                std::mutex mu;
                std::condition_variable cv;
                bool ready = false;
                std::string failed;
            };
            auto hs = std::make_shared<Handshake>();
            PyExplorer* raw = e.get();  // the thread is joined before *e is destroyed
            e->thread = std::thread([raw, so, hs] {
                try {
                    serve::run_server(*raw->explorer, so, [&](const serve::ListenInfo& at) {
                        std::lock_guard lock(hs->mu);
                        raw->url = at.url;
                        raw->port = at.port;
                        hs->ready = true;
                        hs->cv.notify_all();
                    });
                } catch (const std::exception& ex) {
                    std::lock_guard lock(hs->mu);
                    if (!hs->ready) {
                        hs->failed = ex.what();
                        hs->ready = true;
                        hs->cv.notify_all();
                    } else {
                        fprintf(stderr, "camscope explorer: %s\n", ex.what());
                    }
                }
                raw->ended.store(true);
            });
            {
                py::gil_scoped_release release;
                std::unique_lock lock(hs->mu);
                hs->cv.wait(lock, [&] { return hs->ready; });
            }
            if (!hs->failed.empty()) {
                e->thread.join();
                throw Error(hs->failed);
            }
            return e;
        },
        py::arg("report"), py::arg("host") = "127.0.0.1", py::arg("port") = 0, py::arg("frame_ancestors") = "'none'",
        py::arg("allow_hosts") = std::vector<std::string>{});
}

}  // namespace camscope::bindings
