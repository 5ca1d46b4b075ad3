#!/usr/bin/env python3
"""Exports a torchvision classifier as TorchScript for camscope (docs/transformers.md).

    python3 scripts/export_torchvision.py vit_b_16 vit_b_16.pt            # scripted
    python3 scripts/export_torchvision.py swin_t swin_t.pt --trace        # traced
    python3 scripts/export_torchvision.py resnet50 resnet50.pt --weights DEFAULT
    python3 scripts/export_torchvision.py vit_b_16 vit10.pt --num-classes 10   # random, 10 outputs

--weights DEFAULT loads torchvision's pretrained weights (downloaded by torchvision, or from its
cache); without it the weights are random (enough to list layers, time and test). The model is put
in eval mode before tracing or scripting (a model traced in train mode keeps batch-norm and dropout
in training mode, which camscope detects and reports). torchvision's ViT is traced with
check_trace=False: its trace check compares two traces' graphs, which differ in node names only.
"""
import argparse

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arch", help="a torchvision.models builder: vit_b_16, swin_t, convnext_tiny, resnet50, ...")
    ap.add_argument("out", help="output TorchScript file (.pt)")
    ap.add_argument("--trace", action="store_true", help="torch.jit.trace instead of torch.jit.script")
    ap.add_argument("--weights", default=None, help="torchvision weights name, e.g. DEFAULT (default: random)")
    ap.add_argument("--num-classes", type=int, default=None,
                    help="classifier outputs (random weights only; default: torchvision's 1000)")
    ap.add_argument("--size", type=int, default=224, help="input size for tracing (default 224)")
    args = ap.parse_args()
    torch.manual_seed(0)
    extra = {"num_classes": args.num_classes} if args.num_classes else {}
    model = getattr(torchvision.models, args.arch)(weights=args.weights, **extra).eval()
    if args.trace:
        example = torch.randn(1, 3, args.size, args.size)
        ts = torch.jit.trace(model, example, check_trace=False)
    else:
        ts = torch.jit.script(model)
    ts.save(args.out)
    print(f"{args.out}: {args.arch} ({'traced' if args.trace else 'scripted'}, torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}); camscope: --input-size {args.size}x{args.size} --norm imagenet")


if __name__ == "__main__":
    main()
