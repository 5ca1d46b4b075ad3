// camscope._camscope: _Dataset, the Python Dataset's C++ side: a dataset the library opens from a
// path, or one held in memory from arrays (ArrayDataset), and its images and labels.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "camscope/data/dataset.hpp"
#include "camscope/util/error.hpp"
#include "common.hpp"

namespace camscope::bindings {

namespace {

/// A dataset held in memory: uint8 images N×H×W×C (copied once; Dataset::get is called from the
/// pass's decoding threads, which must not touch Python objects), labels, class names.
class ArrayDataset : public Dataset {
public:
    ArrayDataset(std::vector<Image> images, std::vector<int> labels, std::vector<int> coarse, DatasetInfo info)
        : images_(std::move(images)), labels_(std::move(labels)), coarse_(std::move(coarse)), info_(std::move(info)) {}
    size_t size() const override { return images_.size(); }
    Sample get(size_t i) const override {
        if (i >= images_.size()) throw Error(info_.name + ": image index " + std::to_string(i) + " out of range");
        Sample s;
        s.image = images_[i];
        s.label = labels_[i];
        s.coarse = coarse_.empty() ? -1 : coarse_[i];
        return s;
    }
    const DatasetInfo& info() const override { return info_; }

private:
    std::vector<Image> images_;
    std::vector<int> labels_, coarse_;
    DatasetInfo info_;
};

/// `applied`: the (mean, std) the images' source had normalised them with (a torchvision transform's
/// Normalize; the uint8 images were recovered from its tensors), and `applied_by` what applied it.
PyDataset dataset_from_arrays(const py::object& images, const std::vector<int>& labels,
                              const std::vector<std::string>& class_names, const std::optional<std::vector<int>>& coarse,
                              const std::vector<std::string>& coarse_names, const std::string& name,
                              const std::optional<std::pair<std::vector<float>, std::vector<float>>>& applied,
                              const std::string& applied_by) {
    py::array a = uint8_images(images, "images");
    const size_t n = static_cast<size_t>(a.shape(0));
    if (labels.size() != n)
        throw UsageError("labels: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) + " images");
    if (class_names.empty()) throw UsageError("class_names: at least one class name is needed");
    for (size_t i = 0; i < n; ++i)
        if (labels[i] < 0 || static_cast<size_t>(labels[i]) >= class_names.size())
            throw UsageError("labels[" + std::to_string(i) + "] = " + std::to_string(labels[i]) + " is not a class index (0.." +
                             std::to_string(class_names.size() - 1) + ")");
    DatasetInfo info;
    info.format = "arrays";
    info.name = name;
    info.split = "test";
    info.class_names = class_names;
    info.names_source = "class_names";
    info.preset.channels = a.ndim() == 4 ? static_cast<int>(a.shape(3)) : 1;
    info.preset.height = static_cast<int>(a.shape(1));
    info.preset.width = static_cast<int>(a.shape(2));
    if (applied) {
        info.applied_norm = Normalization{applied->first, applied->second};
        info.applied_by = applied_by.empty() ? "the images' source" : applied_by;
    }
    std::vector<int> co;
    if (coarse) {
        if (coarse->size() != n)
            throw UsageError("coarse: " + std::to_string(coarse->size()) + " labels for " + std::to_string(n) + " images");
        co = *coarse;
        int kc = 0;
        for (int c : co) kc = std::max(kc, c + 1);
        info.coarse_names = coarse_names;
        if (info.coarse_names.empty())
            for (int c = 0; c < kc; ++c) info.coarse_names.push_back("superclass_" + std::to_string(c));
        // The superclass of each class, from its images (a class in two superclasses is refused).
        info.fine_to_coarse.assign(class_names.size(), -1);
        for (size_t i = 0; i < n; ++i) {
            if (co[i] < 0 || static_cast<size_t>(co[i]) >= info.coarse_names.size())
                throw UsageError("coarse[" + std::to_string(i) + "] = " + std::to_string(co[i]) + " is not a superclass index");
            int& f = info.fine_to_coarse[static_cast<size_t>(labels[i])];
            if (f >= 0 && f != co[i])
                throw UsageError("coarse: class " + std::to_string(labels[i]) + " has images in superclasses " +
                                 std::to_string(f) + " and " + std::to_string(co[i]));
            f = co[i];
        }
        for (int& f : info.fine_to_coarse)
            if (f < 0) f = 0;  // a class without images: any block
    }
    std::vector<Image> imgs;
    imgs.reserve(n);
    for (size_t i = 0; i < n; ++i) imgs.push_back(image_from(a, i, "images"));
    return {std::make_shared<ArrayDataset>(std::move(imgs), labels, std::move(co), std::move(info)), name, "", ""};
}

py::dict dataset_info(const PyDataset& d) {
    const auto& i = d.ds->info();
    py::dict r;
    r["path"] = d.path;
    r["format"] = i.format;
    r["name"] = i.name;
    r["split"] = i.split;
    r["class_names"] = i.class_names;
    r["coarse_names"] = i.coarse_names;
    r["fine_to_coarse"] = i.fine_to_coarse;
    r["size"] = d.ds->size();
    return r;
}

}  // namespace

void bind_data(py::module_& mod) {
    py::class_<PyDataset, std::shared_ptr<PyDataset>>(mod, "_Dataset")
        .def_static(
            "open",
            [](const std::string& path, const std::string& split, const std::string& format, size_t limit,
               const std::optional<std::vector<std::string>>& class_names) {
                OpenOptions o;
                o.split = split;
                o.format = format;
                auto ds = open_dataset(path, o);
                if (class_names) {
                    if (class_names->size() != ds->num_classes())
                        throw UsageError("class_names: " + std::to_string(class_names->size()) + " names for the " +
                                         std::to_string(ds->num_classes()) + " classes of " + path);
                    ds = rename_classes(std::move(ds), *class_names, "class_names");
                }
                if (limit > 0) ds = first_images(std::move(ds), limit);  // 0: every image
                return std::make_shared<PyDataset>(PyDataset{std::shared_ptr<Dataset>(std::move(ds)), path, split, format});
            },
            py::arg("path"), py::arg("split") = "test", py::arg("format") = "", py::arg("limit") = 0,
            py::arg("class_names") = py::none())
        .def_static(
            "from_arrays",
            [](const py::object& images, const std::vector<int>& labels, const std::vector<std::string>& names,
               const std::optional<std::vector<int>>& coarse, const std::vector<std::string>& coarse_names,
               const std::string& name, const std::optional<std::pair<std::vector<float>, std::vector<float>>>& applied,
               const std::string& applied_by) {
                return std::make_shared<PyDataset>(
                    dataset_from_arrays(images, labels, names, coarse, coarse_names, name, applied, applied_by));
            },
            py::arg("images"), py::arg("labels"), py::arg("class_names"), py::arg("coarse") = py::none(),
            py::arg("coarse_names") = std::vector<std::string>{}, py::arg("name") = "arrays",
            py::arg("applied_norm") = py::none(), py::arg("applied_by") = "")
        .def("__len__", [](const PyDataset& d) { return d.ds->size(); })
        .def("info", &dataset_info)
        .def("get", [](const PyDataset& d, py::ssize_t i) {
            if (i < 0 || static_cast<size_t>(i) >= d.ds->size())
                throw py::index_error("image index " + std::to_string(i) + " out of range: the dataset has " +
                                      std::to_string(d.ds->size()) + " images");
            Sample s;
            {
                py::gil_scoped_release release;
                s = d.ds->get(static_cast<size_t>(i));
            }
            return py::make_tuple(image_to_numpy(s.image), s.label);
        });
}

}  // namespace camscope::bindings
