#pragma once
// Test support: running a command (the camscope binary, in the CLI and server tests) to completion.
#include <string>

namespace camscope::support {

struct Run {
    int code;         // exit status; 128 + signal when killed (124: `timeout` expired)
    std::string out;  // stdout + stderr
};

/// Runs the shell command line `cmd` with its stderr joined to its stdout (`cmd 2>&1`) and waits for it.
Run run_command(const std::string& cmd);

}  // namespace camscope::support
