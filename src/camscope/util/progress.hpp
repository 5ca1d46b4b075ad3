#pragma once
// A progress bar on stderr: "label [#####.....] 1234/10000 12.3 it/s ETA 0:42 extra".
// Redraws in place on a TTY (at most ~10 times per second), prints a few plain lines otherwise
// (CI logs), and nothing when disabled. Thread-safe updates.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace camscope {

class Progress {
public:
    Progress(std::string label, std::size_t total, bool enabled = true);
    ~Progress();  // finishes the line
    void advance(std::size_t n = 1);
    void set_postfix(std::string text);  // e.g. "loss 0.412 acc 87.1%"
    void finish();

    /// Globally silence progress output (--quiet).
    static void set_enabled(bool on);

private:
    void draw(bool final);
    std::string label_;
    std::size_t total_, done_ = 0;
    bool enabled_, finished_ = false, tty_;
    std::string postfix_;
    std::chrono::steady_clock::time_point start_, last_draw_;
    int plain_reports_ = 0;
    std::mutex mu_;
};

}  // namespace camscope
