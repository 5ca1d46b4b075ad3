// camscope: where and why an image classifier fails. Thin CLI over the library.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/progress.hpp"
#include "common.hpp"

namespace {

/// OpenMP reads OMP_WAIT_POLICY when the runtime loads (before main), and two spinning threads
/// collapse ~20x when another process is busy. Re-execute once with PASSIVE unless the user set it.
void ensure_passive_openmp(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: carry on as we are
}

}  // namespace

#ifndef CAMSCOPE_VERSION
#error "CAMSCOPE_VERSION: set by CMakeLists.txt from project(VERSION)"
#endif

int main(int argc, char** argv) {
    ensure_passive_openmp(argv);
    // SIGINT/SIGTERM/SIGHUP remove the temporary files and the report staging folder of this run,
    // then end the process as the signal would have.
    camscope::install_signal_cleanup();
    CLI::App app{"camscope — where and why your image classifier fails.\n"
                 "Runs a TorchScript classifier over a test set: accuracy, confusions, calibration, Grad-CAM evidence,\n"
                 "likely label errors and recommendations, as CSV/JSON/PNG/HTML.",
                 "camscope"};
    app.require_subcommand(1);
    app.add_flag("-q,--quiet", camscope::cli::g_quiet, "no progress bars or notes on stderr");
    app.set_version_flag("--version", "camscope " CAMSCOPE_VERSION);  // CMakeLists.txt's project(VERSION)
    app.footer("Run `camscope COMMAND --help` for a command's options. Exit codes: 0 ok, 1 runtime error, 2 bad usage.");
    camscope::cli::register_demo(app);
    camscope::cli::register_analyze(app);
    camscope::cli::register_merge(app);
    camscope::cli::register_compare(app);
    camscope::cli::register_rescore(app);
    camscope::cli::register_serve(app);
    camscope::cli::register_predict(app);
    camscope::cli::register_cam(app);
    camscope::cli::register_evaluate(app);
    camscope::cli::register_layers(app);
    camscope::cli::register_train(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    } catch (const camscope::UsageError& e) {
        fprintf(stderr, "camscope: %s\n", e.what());
        return 2;
    } catch (const camscope::Error& e) {
        fprintf(stderr, "camscope: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        // Not one of ours (a LibTorch c10::Error that escaped, std::bad_alloc): the first line is
        // the message, the rest a C++ backtrace that means nothing to the user.
        const std::string what = e.what();
        fprintf(stderr, "camscope: error: %s\n", what.substr(0, what.find('\n')).c_str());
        return 1;
    }
    return 0;
}
