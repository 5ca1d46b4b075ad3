#!/usr/bin/env python3
"""A large CIFAR-100-format test set for timing the explorer (the browser test's 50,000-image run).

    scripts/make_synthetic_cifar100.py N OUT_DIR [--source tests/fixtures/tiny_cifar100]

Writes OUT_DIR/test.bin (N records of <coarse label, fine label, 3072 bytes R|G|B planes>) and
copies the class-name files. Record i is source image i % S (S = the source's test images); every round
after the first gets a deterministic perturbation (a horizontal flip on odd rounds, a cyclic shift
of up to 3 pixels and
±8 of noise), keeping its labels, so a model trained on CIFAR-100 still spreads its predictions
over the classes. Needs numpy (/usr/bin/python3 on Debian). Then, for example:

    camscope analyze --faithfulness-n 0 -m tests/fixtures/tiny_cifar100_model.pt -d OUT_DIR -o OUT_DIR/report
    camscope serve -m tests/fixtures/tiny_cifar100_model.pt -d OUT_DIR --results OUT_DIR/report
"""
import argparse
import os
import shutil

import numpy as np

REC = 2 + 3072


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--source", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "tiny_cifar100"))
    a = ap.parse_args()
    if a.n <= 0:
        ap.error("N must be positive")
    with open(os.path.join(a.source, "test.bin"), "rb") as f:
        src = f.read()
    if len(src) % REC:
        raise SystemExit(f"{a.source}/test.bin: {len(src)} bytes is not a whole number of {REC}-byte records")
    s = len(src) // REC
    recs = np.frombuffer(src, dtype=np.uint8).reshape(s, REC)
    rng = np.random.default_rng(1)
    os.makedirs(a.out, exist_ok=True)
    tmp = os.path.join(a.out, ".test.bin.tmp")
    with open(tmp, "wb") as out:
        for start in range(0, a.n, s):  # one round: every source image once (the last may be partial)
            rnd, count = start // s, min(s, a.n - start)
            block = recs[:count].copy()
            if rnd > 0:
                px = block[:, 2:].reshape(count, 3, 32, 32).astype(np.int16)
                if rnd % 2 == 1:
                    px = px[..., ::-1]
                px = np.roll(px, rnd % 7 - 3, axis=3)
                px += rng.integers(-8, 9, size=px.shape, dtype=np.int16)
                block[:, 2:] = np.clip(px, 0, 255).astype(np.uint8).reshape(count, 3072)
            out.write(block.tobytes())
    os.replace(tmp, os.path.join(a.out, "test.bin"))
    for name in ("fine_label_names.txt", "coarse_label_names.txt"):
        p = os.path.join(a.source, name)
        if os.path.exists(p):
            shutil.copyfile(p, os.path.join(a.out, name))
    print(f"{a.out}/test.bin: {a.n} images, from {s} source images")


if __name__ == "__main__":
    main()
