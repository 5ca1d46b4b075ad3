#pragma once
// A progress bar on stderr: "label [#####.....] 1234/10000 12.3 it/s ETA 0:42 extra".
// Redraws in place on a TTY (at most ~10 times per second), prints a few plain lines otherwise
// (CI logs), and nothing when disabled. Thread-safe updates.
#include <chrono>
#include <cstddef>
#include <functional>
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

    /// Where enabled bars go instead of stderr (the Python package draws them as notebook or
    /// terminal bars): sink(label, done, total, final, seconds) on every advance, from whichever
    /// thread advanced, and once with final = true; seconds: since the bar was made (its rate is
    /// done / seconds, as the stderr bar's, also for a stage that reports only once, at its end).
    /// A non-final call may throw to abandon the work (a Ctrl-C seen by Python); the exception
    /// leaves advance(). Final calls must not throw (they come from the destructor); an exception
    /// there is dropped. An empty sink: stderr again.
    using Sink = std::function<void(const std::string& label, std::size_t done, std::size_t total, bool final,
                                    double seconds)>;
    static void set_sink(Sink sink);

private:
    void draw(bool final);
    double seconds() const;  // since start_
    std::string label_;
    std::size_t total_, done_ = 0;
    bool enabled_, finished_ = false, tty_;
    std::string postfix_;
    std::chrono::steady_clock::time_point start_, last_draw_;
    int plain_reports_ = 0;
    std::mutex mu_;
};

}  // namespace camscope
