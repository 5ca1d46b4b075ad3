#include "camscope/pipeline/contrast.hpp"

#include <algorithm>

namespace camscope {

void attach_contrast_cams(Report& r, Model& model, const Dataset& data, const InputSpec& spec, const std::string& layer,
                          int batch_size) {
    std::vector<RowRef> rows;
    for (const auto& f : r.pair_figures)
        for (const auto& x : f.examples)
            if (x.pred != x.label && !r.contrast_cams.count(x.row) &&
                std::none_of(rows.begin(), rows.end(), [&](const RowRef& y) { return y.row == x.row; }))
                rows.push_back(x);
    const size_t per = static_cast<size_t>(spec.channels) * spec.height * spec.width;
    const size_t step = static_cast<size_t>(std::max(1, batch_size));
    for (size_t start = 0; start < rows.size(); start += step) {
        const size_t n = std::min(step, rows.size() - start);
        std::vector<float> x(per * n);
        CamRequest req;
        req.method = "finercam";
        req.layers = {layer};
        req.alpha = 1.0;
        req.targets.assign(1, std::vector<int>(n));
        for (size_t i = 0; i < n; ++i) {
            const RowRef& ref = rows[start + i];
            to_input(data.get(static_cast<size_t>(ref.index)).image, spec, x.data() + i * per);
            req.targets[0][i] = ref.pred;
            req.contrast.push_back({ref.label});
        }
        const BatchResult res = model.run(x.data(), static_cast<int>(n), spec, &req);
        const size_t hw = static_cast<size_t>(res.fh) * res.fw;
        r.contrast_fh = res.fh;
        r.contrast_fw = res.fw;
        for (size_t i = 0; i < n; ++i)
            r.contrast_cams[rows[start + i].row].assign(res.cams.begin() + static_cast<long>(i * hw),
                                                        res.cams.begin() + static_cast<long>((i + 1) * hw));
    }
}

}  // namespace camscope
