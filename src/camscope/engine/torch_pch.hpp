// Precompiled header for the torch translation units of the engine (PRIVATE to camscope_engine).
#pragma once
#include <torch/script.h>
#include <torch/torch.h>
