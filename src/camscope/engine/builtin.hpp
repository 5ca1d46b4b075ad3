#pragma once
// Built-in architectures, written with LibTorch's C++ TorchScript API: each layer is a
// torch::jit::Module whose forward is TorchScript source, so the trained model is an ordinary
// TorchScript file — the same code path (probe graphs, CAMs) serves it and user models, and
// Python can torch.jit.load it. Module paths follow torchvision (conv1, bn1, layer1.0.conv2, fc).
#include <cstdint>
#include <string>

#include <torch/script.h>

#include "camscope/data/dataset.hpp"

namespace camscope::engine {

/// Builds an untrained model in train mode. arch: "cnn" (two conv blocks for 28×28 grey input,
/// ~0.1 M parameters), "resnet20" (He et al. 2016 CIFAR ResNet: 3×3 stem, no max-pool, 3 stages of
/// 3 basic blocks, widths 16/32/64), "resnet56" (the same with 9 blocks per stage: deep and thin),
/// "resnet18" (CIFAR ResNet-18: 3×3 stem, no max-pool, widths
/// 64…512). Throws UsageError for an unknown arch.
torch::jit::Module build_model(const std::string& arch, const InputSpec& spec, int num_classes, std::uint64_t seed);

}  // namespace camscope::engine
