#include "camscope/report/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "camscope/util/error.hpp"

namespace camscope::metrics {

namespace {

void check_k(int k, const char* fn) {
    if (k <= 0) throw Error(std::string(fn) + ": number of classes must be positive, got " + std::to_string(k));
}

void check_labels(const int* labels, size_t n, int k, const char* fn, const char* what = "labels") {
    for (size_t i = 0; i < n; ++i)
        if (labels[i] < 0 || labels[i] >= k)
            throw Error(std::string(fn) + ": " + what + "[" + std::to_string(i) + "] = " + std::to_string(labels[i]) +
                        " is outside [0, " + std::to_string(k) + ")");
}

// log Σ_j exp(beta·z_j), stabilised by the row maximum.
double logsumexp_scaled(const float* z, int k, double beta) {
    double m = -std::numeric_limits<double>::infinity();
    for (int j = 0; j < k; ++j) m = std::max(m, beta * z[j]);
    double s = 0;
    for (int j = 0; j < k; ++j) s += std::exp(beta * z[j] - m);
    return m + std::log(s);
}

}  // namespace

// ------------------------------------------------------------------ confusion matrix

long long ConfusionMatrix::row_sum(int truth) const {
    long long s = 0;
    for (int p = 0; p < k; ++p) s += at(truth, p);
    return s;
}
long long ConfusionMatrix::col_sum(int pred) const {
    long long s = 0;
    for (int t = 0; t < k; ++t) s += at(t, pred);
    return s;
}
long long ConfusionMatrix::total() const { return std::accumulate(counts.begin(), counts.end(), 0LL); }
long long ConfusionMatrix::trace() const {
    long long s = 0;
    for (int c = 0; c < k; ++c) s += at(c, c);
    return s;
}

std::vector<int> argmax_rows(const float* scores, size_t n, int k) {
    check_k(k, "argmax_rows");
    std::vector<int> out(n);
    for (size_t i = 0; i < n; ++i) {
        const float* r = scores + i * k;
        int best = 0;
        for (int j = 1; j < k; ++j)
            if (r[j] > r[best]) best = j;
        out[i] = best;
    }
    return out;
}

ConfusionMatrix confusion_matrix(const int* labels, const int* preds, size_t n, int k) {
    check_k(k, "confusion_matrix");
    check_labels(labels, n, k, "confusion_matrix");
    check_labels(preds, n, k, "confusion_matrix", "preds");
    ConfusionMatrix cm;
    cm.k = k;
    cm.counts.assign(static_cast<size_t>(k) * k, 0);
    for (size_t i = 0; i < n; ++i) ++cm.counts[static_cast<size_t>(labels[i]) * k + preds[i]];
    return cm;
}

double topk_accuracy(const float* scores, const int* labels, size_t n, int k, int topk) {
    check_k(k, "topk_accuracy");
    check_labels(labels, n, k, "topk_accuracy");
    if (topk <= 0) throw Error("topk_accuracy: topk must be positive, got " + std::to_string(topk));
    if (n == 0) return 0;
    topk = std::min(topk, k);
    size_t hits = 0;
    for (size_t i = 0; i < n; ++i) {
        const float* r = scores + i * k;
        const int y = labels[i];
        // Rank of y = classes that beat it (higher score, or equal score at a lower index).
        int rank = 0;
        for (int j = 0; j < k; ++j)
            if (r[j] > r[y] || (r[j] == r[y] && j < y)) ++rank;
        if (rank < topk) ++hits;
    }
    return static_cast<double>(hits) / static_cast<double>(n);
}

// ------------------------------------------------------------------ per class

std::vector<ClassStats> per_class_stats(const ConfusionMatrix& cm, const int* labels, const float* confidence,
                                        size_t n) {
    const int k = cm.k;
    check_labels(labels, n, k, "per_class_stats");
    std::vector<double> conf_sum(k, 0.0);
    for (size_t i = 0; i < n; ++i) conf_sum[labels[i]] += confidence[i];

    std::vector<ClassStats> out(k);
    for (int c = 0; c < k; ++c) {
        ClassStats& s = out[c];
        s.cls = c;
        s.support = cm.row_sum(c);
        s.correct = cm.at(c, c);
        s.predicted = cm.col_sum(c);
        s.recall = s.support ? double(s.correct) / double(s.support) : 0.0;
        s.precision = s.predicted ? double(s.correct) / double(s.predicted) : 0.0;
        s.f1 = (s.precision + s.recall) > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
        s.mean_confidence = s.support ? conf_sum[c] / double(s.support) : 0.0;
        for (int p = 0; p < k; ++p) {
            if (p == c) continue;
            if (cm.at(c, p) > s.most_confused_count) {
                s.most_confused_count = cm.at(c, p);
                s.most_confused_with = p;
            }
        }
    }
    return out;
}

// ------------------------------------------------------------------ confused pairs

std::vector<DirectedPair> directed_pairs(const ConfusionMatrix& cm) {
    std::vector<DirectedPair> out;
    for (int a = 0; a < cm.k; ++a) {
        const long long support = cm.row_sum(a);
        for (int b = 0; b < cm.k; ++b) {
            if (a == b || cm.at(a, b) == 0) continue;
            out.push_back({a, b, cm.at(a, b), double(cm.at(a, b)) / double(support), {}});
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const DirectedPair& x, const DirectedPair& y) {
        if (x.count != y.count) return x.count > y.count;
        if (x.rate != y.rate) return x.rate > y.rate;
        return std::pair(x.a, x.b) < std::pair(y.a, y.b);
    });
    return out;
}

std::vector<SymmetricPair> symmetric_pairs(const ConfusionMatrix& cm) {
    std::vector<SymmetricPair> out;
    for (int a = 0; a < cm.k; ++a) {
        for (int b = a + 1; b < cm.k; ++b) {
            SymmetricPair p;
            p.a = a;
            p.b = b;
            p.count_ab = cm.at(a, b);
            p.count_ba = cm.at(b, a);
            p.count = p.count_ab + p.count_ba;
            if (p.count == 0) continue;
            p.rate = double(p.count) / double(cm.row_sum(a) + cm.row_sum(b));
            out.push_back(p);
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const SymmetricPair& x, const SymmetricPair& y) {
        if (x.count != y.count) return x.count > y.count;
        if (x.rate != y.rate) return x.rate > y.rate;
        return std::pair(x.a, x.b) < std::pair(y.a, y.b);
    });
    return out;
}

// ------------------------------------------------------------------ superclasses

SuperclassShare superclass_share(const ConfusionMatrix& cm, const std::vector<int>& fine_to_coarse, int num_coarse) {
    const int k = cm.k;
    if (static_cast<int>(fine_to_coarse.size()) != k)
        throw Error("superclass_share: fine_to_coarse has " + std::to_string(fine_to_coarse.size()) +
                    " entries, expected one per class (" + std::to_string(k) + ")");
    if (num_coarse <= 0) throw Error("superclass_share: num_coarse must be positive, got " + std::to_string(num_coarse));
    check_labels(fine_to_coarse.data(), fine_to_coarse.size(), num_coarse, "superclass_share", "fine_to_coarse");

    SuperclassShare s;
    s.per_superclass.resize(num_coarse);
    for (int g = 0; g < num_coarse; ++g) s.per_superclass[g].coarse = g;
    for (int c = 0; c < k; ++c) ++s.per_superclass[fine_to_coarse[c]].num_fine;

    long long total = 0, coarse_right = 0;
    double chance_sum = 0;
    for (int t = 0; t < k; ++t) {
        const int gt = fine_to_coarse[t];
        SuperclassStats& g = s.per_superclass[gt];
        const double chance = k > 1 ? double(g.num_fine - 1) / double(k - 1) : 0.0;
        for (int p = 0; p < k; ++p) {
            const long long c = cm.at(t, p);
            if (c == 0) continue;
            total += c;
            g.support += c;
            const bool same = fine_to_coarse[p] == gt;
            if (same) coarse_right += c;
            if (p == t) continue;
            s.errors += c;
            g.errors += c;
            chance_sum += chance * double(c);
            if (same) {
                s.within += c;
                g.within += c;
            } else {
                s.cross += c;
            }
        }
    }
    for (SuperclassStats& g : s.per_superclass)
        g.coarse_accuracy = g.support ? double(g.support - g.errors + g.within) / double(g.support) : 0.0;
    if (s.errors > 0) {
        s.within_share = double(s.within) / double(s.errors);
        s.cross_share = double(s.cross) / double(s.errors);
        s.chance_within_share = chance_sum / double(s.errors);
    }
    s.coarse_accuracy = total ? double(coarse_right) / double(total) : 0.0;
    return s;
}

// ------------------------------------------------------------------ confidence extremes

std::vector<size_t> high_confidence_errors(const int* labels, const int* preds, const float* confidence, size_t n,
                                           double threshold) {
    std::vector<size_t> rows;
    for (size_t i = 0; i < n; ++i)
        if (preds[i] != labels[i] && confidence[i] >= threshold) rows.push_back(i);
    std::stable_sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return confidence[a] > confidence[b]; });
    return rows;
}

std::vector<size_t> low_confidence_correct(const int* labels, const int* preds, const float* confidence, size_t n,
                                           double threshold) {
    std::vector<size_t> rows;
    for (size_t i = 0; i < n; ++i)
        if (preds[i] == labels[i] && confidence[i] < threshold) rows.push_back(i);
    std::stable_sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return confidence[a] < confidence[b]; });
    return rows;
}

// ------------------------------------------------------------------ calibration

int calibration_bin(double c, int bins) {
    int b = std::clamp(static_cast<int>(std::ceil(c * bins)) - 1, 0, bins - 1);
    while (b > 0 && c <= double(b) / bins) --b;
    while (b < bins - 1 && c > double(b + 1) / bins) ++b;
    return b;
}

Calibration calibration(const float* confidence, const std::uint8_t* correct, size_t n, int bins) {
    if (bins <= 0) throw Error("calibration: number of bins must be positive, got " + std::to_string(bins));
    Calibration cal;
    cal.num_bins = bins;
    cal.n = static_cast<long long>(n);
    cal.bins.resize(bins);
    std::vector<double> conf_sum(bins, 0.0), acc_sum(bins, 0.0);
    double all_conf = 0, all_acc = 0;
    for (int b = 0; b < bins; ++b) {
        cal.bins[b].lower = double(b) / bins;
        cal.bins[b].upper = double(b + 1) / bins;
    }
    for (size_t i = 0; i < n; ++i) {
        const double c = confidence[i];
        if (!(c >= 0.0 && c <= 1.0))
            throw Error("calibration: confidence[" + std::to_string(i) + "] = " + std::to_string(c) +
                        " is outside [0, 1]");
        const int b = calibration_bin(c, bins);
        ++cal.bins[b].count;
        conf_sum[b] += c;
        acc_sum[b] += correct[i] ? 1.0 : 0.0;
        all_conf += c;
        all_acc += correct[i] ? 1.0 : 0.0;
    }
    for (int b = 0; b < bins; ++b) {
        CalibrationBin& bin = cal.bins[b];
        if (bin.count == 0) continue;
        bin.confidence = conf_sum[b] / double(bin.count);
        bin.accuracy = acc_sum[b] / double(bin.count);
        const double gap = std::abs(bin.accuracy - bin.confidence);
        cal.ece += double(bin.count) / double(n) * gap;
        cal.mce = std::max(cal.mce, gap);
    }
    if (n > 0) {
        cal.accuracy = all_acc / double(n);
        cal.mean_confidence = all_conf / double(n);
        cal.overconfidence = cal.mean_confidence - cal.accuracy;
    }
    return cal;
}

double mean_nll(const float* logits, const int* labels, size_t n, int k, double temperature) {
    check_k(k, "mean_nll");
    if (!(temperature > 0)) throw Error("mean_nll: temperature must be positive, got " + std::to_string(temperature));
    if (n == 0) return 0;
    const double beta = 1.0 / temperature;
    double s = 0;
    for (size_t i = 0; i < n; ++i) {
        const float* z = logits + i * k;
        s += logsumexp_scaled(z, k, beta) - beta * z[labels[i]];
    }
    return s / double(n);
}

std::vector<float> softmax_rows(const float* logits, size_t n, int k, double temperature) {
    check_k(k, "softmax_rows");
    const double beta = 1.0 / temperature;
    std::vector<float> out(n * k);
    for (size_t i = 0; i < n; ++i) {
        const float* z = logits + i * k;
        const double lse = logsumexp_scaled(z, k, beta);
        for (int j = 0; j < k; ++j) out[i * k + j] = static_cast<float>(std::exp(beta * z[j] - lse));
    }
    return out;
}

namespace {
Calibration calibration_at(const float* logits, const int* labels, size_t n, int k, double t, int bins) {
    const std::vector<float> p = softmax_rows(logits, n, k, t);
    const std::vector<int> pred = argmax_rows(p.data(), n, k);
    std::vector<float> conf(n);
    std::vector<std::uint8_t> ok(n);
    for (size_t i = 0; i < n; ++i) {
        conf[i] = p[i * k + pred[i]];
        ok[i] = pred[i] == labels[i];
    }
    return calibration(conf.data(), ok.data(), n, bins);
}
}  // namespace

TemperatureFit fit_temperature(const float* logits, const int* labels, size_t n, int k, int bins, double t_min,
                               double t_max) {
    check_k(k, "fit_temperature");
    check_labels(labels, n, k, "fit_temperature");
    if (!(t_min > 0 && t_max > t_min))
        throw Error("fit_temperature: need 0 < t_min < t_max, got [" + std::to_string(t_min) + ", " +
                    std::to_string(t_max) + "]");
    TemperatureFit fit;
    fit.nll_before = mean_nll(logits, labels, n, k, 1.0);
    fit.before = calibration_at(logits, labels, n, k, 1.0, bins);
    if (n == 0) {
        fit.after = fit.before;
        return fit;
    }
    // f(β) = mean NLL at β = 1/T is convex (log-sum-exp of a linear function of β minus a linear
    // term), f'(β) = mean(E_p[z] − z_label), f''(β) = mean(Var_p[z]) ≥ 0, all three from one pass
    // over the logits. Safeguarded Newton on β in [1/t_max, 1/t_min]: the bracket keeps the sign
    // change of f'; a step leaving it, or a flat f'', bisects instead. ~8 passes where a
    // golden-section search on log T needed ~50 (each pass is n×K exponentials).
    const double b_lo0 = 1.0 / t_max, b_hi0 = 1.0 / t_min;
    auto derivs = [&](double beta, double& d1, double& d2) {
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < n; ++i) {
            const float* z = logits + i * k;
            double m = -std::numeric_limits<double>::infinity();
            for (int j = 0; j < k; ++j) m = std::max(m, beta * z[j]);
            double w = 0, ez = 0, ez2 = 0;
            for (int j = 0; j < k; ++j) {
                const double e = std::exp(beta * z[j] - m);
                w += e;
                ez += e * z[j];
                ez2 += e * double(z[j]) * z[j];
            }
            const double mean = ez / w;
            s1 += mean - z[labels[i]];
            s2 += std::max(0.0, ez2 / w - mean * mean);
        }
        d1 = s1 / double(n);
        d2 = s2 / double(n);
    };
    double best_t;
    double d1 = 0, d2 = 0;
    derivs(b_lo0, d1, d2);
    if (d1 == 0 && d2 == 0) {
        best_t = std::clamp(1.0, t_min, t_max);  // every row's logits equal: no T changes anything
    } else if (d1 >= 0) {
        best_t = t_max;  // f increasing from the smallest β: the optimum is at or beyond T = t_max
        fit.bound = 1;
    } else {
        double g_hi = 0, h_hi = 0;
        derivs(b_hi0, g_hi, h_hi);
        if (g_hi <= 0) {
            best_t = t_min;  // still decreasing at the largest β: at or beyond T = t_min
            fit.bound = -1;
        } else {
            double lo = b_lo0, hi = b_hi0;  // f'(lo) < 0 < f'(hi)
            double beta = std::clamp(1.0, lo, hi);
            for (int it = 0; it < 200; ++it) {
                derivs(beta, d1, d2);
                if (d1 == 0) break;
                if (d1 < 0) lo = beta;
                else hi = beta;
                double next = d2 > 0 ? beta - d1 / d2 : 0.5 * (lo + hi);
                if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
                const double step = std::abs(next - beta);
                beta = next;
                if (step <= 1e-12 * beta || hi - lo <= 1e-12 * hi) break;
            }
            best_t = 1.0 / beta;
        }
    }
    const double best_f = mean_nll(logits, labels, n, k, best_t);
    fit.temperature = best_t;
    fit.nll_after = best_f;
    fit.after = calibration_at(logits, labels, n, k, best_t, bins);
    return fit;
}

// ------------------------------------------------------------------ where the CAM looks

namespace {
// Length of [i, i+1) ∩ [lo, hi).
double overlap(int i, double lo, double hi) { return std::max(0.0, std::min(i + 1.0, hi) - std::max(double(i), lo)); }
}  // namespace

double centre_share(const float* map, int h, int w) {
    if (h <= 0 || w <= 0) throw Error("centre_share: map size must be positive, got " + std::to_string(h) + "x" +
                                      std::to_string(w));
    std::vector<double> wy(h), wx(w);
    for (int y = 0; y < h; ++y) wy[y] = overlap(y, h / 4.0, 3.0 * h / 4.0);
    for (int x = 0; x < w; ++x) wx[x] = overlap(x, w / 4.0, 3.0 * w / 4.0);
    double total = 0, centre = 0;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const double v = std::max(0.0f, map[static_cast<size_t>(y) * w + x]);
            total += v;
            centre += v * wy[y] * wx[x];
        }
    if (total <= 0) return std::numeric_limits<double>::quiet_NaN();
    return centre / total;
}

double top_region_iou(const float* a, const float* b, int h, int w, double fraction) {
    if (h <= 0 || w <= 0) throw Error("top_region_iou: map size must be positive, got " + std::to_string(h) + "x" +
                                      std::to_string(w));
    if (!(fraction > 0 && fraction <= 1))
        throw Error("top_region_iou: fraction must be in (0, 1], got " + std::to_string(fraction));
    const size_t n = static_cast<size_t>(h) * w;
    const size_t top = std::min(n, static_cast<size_t>(std::ceil(fraction * double(n) - 1e-9)));
    auto region = [&](const float* m, std::vector<std::uint8_t>& in) -> bool {
        const auto [mn, mx] = std::minmax_element(m, m + n);
        if (*mn == *mx) return false;
        std::vector<size_t> idx(n);
        std::iota(idx.begin(), idx.end(), size_t{0});
        std::nth_element(idx.begin(), idx.begin() + (top - 1), idx.end(), [&](size_t i, size_t j) {
            return m[i] != m[j] ? m[i] > m[j] : i < j;
        });
        in.assign(n, 0);
        for (size_t t = 0; t < top; ++t) in[idx[t]] = 1;
        return true;
    };
    std::vector<std::uint8_t> ra, rb;
    if (!region(a, ra) || !region(b, rb)) return std::numeric_limits<double>::quiet_NaN();
    size_t inter = 0, uni = 0;
    for (size_t i = 0; i < n; ++i) {
        inter += ra[i] & rb[i];
        uni += ra[i] | rb[i];
    }
    return uni ? double(inter) / double(uni) : 0.0;
}

// ------------------------------------------------------------------ likely label errors

LabelIssues find_label_issues(const float* probs, const int* labels, size_t n, int k) {
    check_k(k, "find_label_issues");
    check_labels(labels, n, k, "find_label_issues");
    LabelIssues out;
    std::vector<double> sum(k, 0.0);
    std::vector<long long> cnt(k, 0);
    for (size_t i = 0; i < n; ++i) {
        sum[labels[i]] += probs[i * k + labels[i]];
        ++cnt[labels[i]];
    }
    out.thresholds.resize(k);
    for (int j = 0; j < k; ++j)
        out.thresholds[j] = cnt[j] ? sum[j] / double(cnt[j]) : std::numeric_limits<double>::quiet_NaN();

    for (size_t i = 0; i < n; ++i) {
        const float* p = probs + i * k;
        const int y = labels[i];
        if (!(p[y] < out.thresholds[y])) continue;
        int best = -1;
        for (int j = 0; j < k; ++j) {
            if (j == y || std::isnan(out.thresholds[j]) || !(p[j] >= out.thresholds[j])) continue;
            if (best < 0 || p[j] > p[best]) best = j;
        }
        if (best < 0) continue;
        out.issues.push_back({i, y, best, p[y], p[best], p[best] - p[y]});
    }
    std::stable_sort(out.issues.begin(), out.issues.end(),
                     [](const LabelIssue& a, const LabelIssue& b) { return a.margin > b.margin; });
    return out;
}

}  // namespace camscope::metrics
