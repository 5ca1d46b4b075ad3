#include "camscope/util/progress.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>

namespace camscope {
namespace {

std::atomic<bool> g_enabled{true};
std::mutex g_sink_mu;
std::shared_ptr<const Progress::Sink> g_sink;  // replaced whole, read under g_sink_mu

std::shared_ptr<const Progress::Sink> current_sink() {
    std::lock_guard<std::mutex> lock(g_sink_mu);
    return g_sink;
}

constexpr int kBarWidth = 30;
constexpr int kPlainLines = 10;  // plain mode: one line per 10% of the total, plus the final one
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string format_duration(double seconds) {
    if (!(seconds >= 0) || seconds > 99.0 * 3600) return "?";
    long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

}  // namespace

void Progress::set_enabled(bool on) { g_enabled.store(on); }

void Progress::set_sink(Sink sink) {
    std::lock_guard<std::mutex> lock(g_sink_mu);
    g_sink = sink ? std::make_shared<const Sink>(std::move(sink)) : nullptr;
}

Progress::Progress(std::string label, std::size_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && g_enabled.load()),
      tty_(::isatty(2) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(std::size_t n) {
    if (auto sink = current_sink()) {
        std::size_t done = 0;
        {
            std::lock_guard<std::mutex> lock(mu_);
            done_ += n;
            done = done_;
            if (!enabled_ || finished_) return;
        }
        (*sink)(label_, done, total_, false, seconds());  // outside the lock: it may throw
        return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_ += n;
    if (!enabled_ || finished_) return;
    if (tty_) {
        auto now = std::chrono::steady_clock::now();
        if (now - last_draw_ >= kRedrawInterval) draw(false);
    } else if (total_ > 0 && done_ < total_) {
        // Plain logs: a line each time another tenth is complete, never more than kPlainLines.
        int tenth = static_cast<int>(done_ * kPlainLines / total_);
        if (tenth > plain_reports_) {
            plain_reports_ = tenth;
            draw(false);
        }
    }
}

void Progress::set_postfix(std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    postfix_ = std::move(text);
}

void Progress::finish() {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    if (!enabled_) return;
    if (auto sink = current_sink()) {
        try {
            (*sink)(label_, done_, total_, true, seconds());
        } catch (...) {  // called from ~Progress: nothing may leave it
        }
        return;
    }
    draw(true);
}

double Progress::seconds() const {  // start_ is set once, in the constructor
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

// Called with mu_ held.
void Progress::draw(bool final) {
    auto now = std::chrono::steady_clock::now();
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;

    std::string line = label_;
    if (total_ > 0) {
        const std::size_t shown = done_ < total_ ? done_ : total_;
        const int filled = static_cast<int>(shown * kBarWidth / total_);
        line += " [";
        line.append(static_cast<std::size_t>(filled), '#');
        line.append(static_cast<std::size_t>(kBarWidth - filled), '.');
        line += "] ";
        line += std::to_string(done_);
        line += '/';
        line += std::to_string(total_);
    } else {
        line += ' ';
        line += std::to_string(done_);
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, " %.1f it/s", rate);
    line += buf;
    if (final) {
        line += " in " + format_duration(elapsed);
    } else if (total_ > 0 && rate > 0 && done_ < total_) {
        line += " ETA " + format_duration(static_cast<double>(total_ - done_) / rate);
    }
    if (!postfix_.empty()) line += " " + postfix_;

    if (tty_)
        std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
    else
        std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
}

}  // namespace camscope
