// camscope._camscope: the pybind11 bindings behind the Python package (python/camscope/). Thin:
// every computation is a call into the library (engine.hpp facade, pipeline/, report/, serve/);
// the bindings convert arguments and results, release the GIL around long calls, and route the
// library's progress bars to Python (where Ctrl-C is checked: common.cpp). One file per bound
// concept: common (errors, progress, conversions), data, model, report, explore.
#include "common.hpp"

#ifndef CAMSCOPE_VERSION
#error "CAMSCOPE_VERSION: set by CMakeLists.txt from project(VERSION)"
#endif

PYBIND11_MODULE(_camscope, mod) {
    mod.doc() = "camscope's C++ library (internal; use the `camscope` package)";
    mod.attr("__version__") = CAMSCOPE_VERSION;  // CMakeLists.txt's project(VERSION), as `camscope --version`

    camscope::bindings::bind_common(mod);
    camscope::bindings::bind_data(mod);
    camscope::bindings::bind_model(mod);
    camscope::bindings::bind_report(mod);
    camscope::bindings::bind_explore(mod);
    camscope::bindings::bind_rescore(mod);
}
