#!/usr/bin/python3
"""Generates tests/malformed/: inputs users might feed camscope that it must refuse cleanly.

Run with Debian's python3 (python3-torch, python3-numpy): /usr/bin/python3 scripts/make_malformed.py
The output is committed; never edit it by hand. manifest.json lists every case:
  args      the camscope command line; {M} = tests/malformed, {F} = tests/fixtures,
            {OUT} = an empty temporary folder for the case's outputs
  exit      the expected exit code (1 runtime error, 2 bad usage)
  expect    substrings the message must contain: the file's name and the problem
  problem   what is wrong, in words
tests/cli/test_malformed.cpp runs each case (one test per case) and also checks that a failed run
leaves no output file behind in {OUT}.
Models are reused from tests/fixtures where one fits (not_a_model.pt, bad_output_model.pt,
nan_model.pt, the tiny CIFAR models); only the checkpoints with bad camscope.json metadata are
made here (a few KB each). The whole corpus stays well under 1 MB.
"""
import gzip
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "malformed")
CIFAR10_RECORD = 1 + 3072
CIFAR100_RECORD = 2 + 3072
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

rng = np.random.default_rng(20240611)
cases = []


def write(rel, data):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return rel


def case(name, problem, args, expect, exit_code=1, files=()):
    cases.append({"name": name, "problem": problem, "files": list(files), "args": args, "exit": exit_code,
                  "expect": expect})


# ----------------------------------------------------------------------------- records and images
def cifar10_records(labels):
    out = bytearray()
    for lab in labels:
        out.append(lab)
        out += rng.integers(0, 256, 3072, dtype=np.uint8).tobytes()
    return bytes(out)


def cifar100_records(pairs):
    out = bytearray()
    for coarse, fine in pairs:
        out += bytes([coarse, fine])
        out += rng.integers(0, 256, 3072, dtype=np.uint8).tobytes()
    return bytes(out)


def idx_images(n, rows=28, cols=28, magic=0x00000803, count=None):
    head = struct.pack(">IIII", magic, n if count is None else count, rows, cols)
    return head + rng.integers(0, 256, n * rows * cols, dtype=np.uint8).tobytes()


def idx_labels(labels, count=None):
    return struct.pack(">II", 0x00000801, len(labels) if count is None else count) + bytes(labels)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, pixels=None):
    """RGB 8-bit PNG; `pixels` H×W×3 uint8 (random if None)."""
    if pixels is None:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def png_declaring(width, height):
    """A valid-looking PNG header (correct CRCs) declaring width×height, with a tiny IDAT."""
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b""))


def image_folder(root, first_in_class0=None, extra_in_class0=None):
    """A 10-class folder (CIFAR-10 class names, one 32×32 PNG each) fitting tiny_cifar10_model.pt;
    `first_in_class0` / `extra_in_class0` = (name, bytes) placed first / after the good image."""
    files = []
    for c, cname in enumerate(CIFAR10_NAMES):
        files.append(write(f"{root}/{cname}/{c}_good.png", png(32, 32)))
    if first_in_class0:
        files.append(write(f"{root}/airplane/{first_in_class0[0]}", first_in_class0[1]))
    if extra_in_class0:
        files.append(write(f"{root}/airplane/{extra_in_class0[0]}", extra_in_class0[1]))
    return files


def predict(model, data):
    return f"predict -m {model} -d {data} -o {{OUT}}/predictions.csv"


M10 = "{F}/tiny_cifar10_model.pt"
M100 = "{F}/tiny_cifar100_model.pt"
MNIST_MODEL = "{F}/cnn_traced.pt"  # 1×28×28 -> 10


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    # ------------------------------------------------------------------------- CIFAR
    f = write("cifar10_truncated/test_batch.bin", cifar10_records([1, 2, 3])[: 2 * CIFAR10_RECORD + 1000])
    case("cifar10_truncated", "CIFAR-10 batch cut in the middle of its third record",
         predict(M10, "{M}/cifar10_truncated"), ["test_batch.bin", "not a multiple of the 3073-byte record",
                                                  "1000 trailing bytes"], files=[f])
    f = write("cifar10_zero_bytes/test_batch.bin", b"")
    case("cifar10_zero_bytes", "zero-byte CIFAR-10 batch file",
         predict(M10, "{M}/cifar10_zero_bytes"), ["test_batch.bin", "empty file"], files=[f])
    f = write("cifar10_label_out_of_range/test_batch.bin", cifar10_records([1, 12, 3]))
    case("cifar10_label_out_of_range", "CIFAR-10 record 1 has label byte 12 (10 classes)",
         predict(M10, "{M}/cifar10_label_out_of_range"),
         ["test_batch.bin", "record 1", "label 12 out of range, expected 0..9"], files=[f])
    f = write("cifar100_fine_label_out_of_range/test.bin", cifar100_records([(4, 0), (1, 100)]))
    case("cifar100_fine_label_out_of_range", "CIFAR-100 record 1 has fine label byte 100",
         predict(M100, "{M}/cifar100_fine_label_out_of_range"),
         ["test.bin", "record 1", "fine label 100 out of range, expected 0..99"], files=[f])
    f = write("cifar100_coarse_label_out_of_range/test.bin", cifar100_records([(20, 0)]))
    case("cifar100_coarse_label_out_of_range", "CIFAR-100 record 0 has coarse label byte 20",
         predict(M100, "{M}/cifar100_coarse_label_out_of_range"),
         ["test.bin", "record 0", "coarse label 20 out of range, expected 0..19"], files=[f])
    f = write("zero_bytes.bin", b"")
    case("dataset_zero_byte_file", "the dataset path is a zero-byte file",
         predict(M10, "{M}/zero_bytes.bin"), ["zero_bytes.bin", "no known dataset layout"], files=[f])

    # ------------------------------------------------------------------------- IDX
    good_labels = idx_labels([0, 1, 2, 3, 4])
    f = [write("idx_wrong_dims/t10k-images-idx3-ubyte", idx_images(5, magic=0x00000802)),
         write("idx_wrong_dims/t10k-labels-idx1-ubyte", good_labels)]
    case("idx_wrong_dimension_count", "IDX images file whose magic declares 2 dimensions instead of 3",
         predict(MNIST_MODEL, "{M}/idx_wrong_dims"),
         ["t10k-images-idx3-ubyte", "bad magic 0x00000802", "declares 2 dimensions"], files=f)
    f = [write("idx_bad_magic/t10k-images-idx3-ubyte", b"GIF89a" + bytes(200)),
         write("idx_bad_magic/t10k-labels-idx1-ubyte", good_labels)]
    case("idx_bad_magic", "an 'IDX images file' that is really something else",
         predict(MNIST_MODEL, "{M}/idx_bad_magic"), ["t10k-images-idx3-ubyte", "bad magic", "not an IDX file"],
         files=f)
    f = [write("idx_labels_bad_magic/t10k-images-idx3-ubyte", idx_images(5)),
         write("idx_labels_bad_magic/t10k-labels-idx1-ubyte", struct.pack(">II", 0x00000803, 5) + bytes(5))]
    case("idx_labels_wrong_dimension_count", "IDX labels file with the images magic (3 dimensions)",
         predict(MNIST_MODEL, "{M}/idx_labels_bad_magic"),
         ["t10k-labels-idx1-ubyte", "bad magic 0x00000803", "declares 3 dimensions"], files=f)
    f = [write("idx_count_exceeds_file/t10k-images-idx3-ubyte", idx_images(5, count=100)),
         write("idx_count_exceeds_file/t10k-labels-idx1-ubyte", good_labels)]
    case("idx_header_claims_more_items", "IDX header claims 100 images, the file holds 5",
         predict(MNIST_MODEL, "{M}/idx_count_exceeds_file"),
         ["t10k-images-idx3-ubyte", "header claims 100 images", "expected 78416 bytes, found 3936"], files=f)
    f = [write("idx_labels_count_exceeds_file/t10k-images-idx3-ubyte", idx_images(5)),
         write("idx_labels_count_exceeds_file/t10k-labels-idx1-ubyte", idx_labels([0, 1, 2, 3, 4], count=60000))]
    case("idx_labels_header_claims_more_items", "IDX labels header claims 60000 labels, the file holds 5",
         predict(MNIST_MODEL, "{M}/idx_labels_count_exceeds_file"),
         ["t10k-labels-idx1-ubyte", "header claims 60000 labels"], files=f)
    f = [write("idx_label_out_of_range/t10k-images-idx3-ubyte", idx_images(5)),
         write("idx_label_out_of_range/t10k-labels-idx1-ubyte", idx_labels([0, 1, 2, 10, 4]))]
    case("idx_label_out_of_range", "IDX label 10 in a 10-class dataset (record 3)",
         predict(MNIST_MODEL, "{M}/idx_label_out_of_range"),
         ["t10k-labels-idx1-ubyte", "record 3", "label 10 out of range, expected 0..9"], files=f)
    f = [write("idx_zero_bytes/t10k-images-idx3-ubyte", b""),
         write("idx_zero_bytes/t10k-labels-idx1-ubyte", good_labels)]
    case("idx_zero_byte_images", "zero-byte IDX images file",
         predict(MNIST_MODEL, "{M}/idx_zero_bytes"),
         ["t10k-images-idx3-ubyte", "expected a 16-byte IDX header, found 0 bytes"], files=f)
    f = [write("idx_gz_truncated/t10k-images-idx3-ubyte.gz", gzip.compress(idx_images(5), mtime=0)[:-300]),
         write("idx_gz_truncated/t10k-labels-idx1-ubyte.gz", gzip.compress(good_labels, mtime=0))]
    case("idx_gz_truncated", "gzipped IDX images file cut short",
         predict(MNIST_MODEL, "{M}/idx_gz_truncated"), ["t10k-images-idx3-ubyte.gz", "truncated gzip stream"],
         files=f)
    # 1 MB of zeros behind a header that claims one 28×28 image: compresses to ~1 KB.
    bomb = struct.pack(">IIII", 0x00000803, 1, 28, 28) + bytes(1 << 20)
    f = [write("idx_gz_more_than_claimed/t10k-images-idx3-ubyte.gz", gzip.compress(bomb, 9, mtime=0)),
         write("idx_gz_more_than_claimed/t10k-labels-idx1-ubyte.gz", gzip.compress(idx_labels([0]), mtime=0))]
    case("idx_gz_more_than_claimed", "gzipped IDX file that expands far beyond what its header claims",
         predict(MNIST_MODEL, "{M}/idx_gz_more_than_claimed"),
         ["t10k-images-idx3-ubyte.gz", "decompresses to more than the 800 bytes its IDX header claims"], files=f)

    # ------------------------------------------------------------------------- image folders
    f = image_folder("folder_non_image", extra_in_class0=("1_notes.png", b"These are my notes, not an image.\n"))
    case("folder_non_image", "a text file named .png in an image folder",
         predict(M10, "{M}/folder_non_image"), ["1_notes.png", "cannot decode image"], files=f)
    f = image_folder("folder_zero_byte_image", extra_in_class0=("1_empty.png", b""))
    case("folder_zero_byte_image", "a zero-byte .png in an image folder",
         predict(M10, "{M}/folder_zero_byte_image"), ["1_empty.png", "empty file"], files=f)
    corrupt = bytearray(png(32, 32))
    corrupt[60] ^= 0xFF  # inside the IDAT data: the chunk's CRC no longer matches
    f = image_folder("folder_corrupt_png", extra_in_class0=("1_corrupt.png", bytes(corrupt)))
    case("folder_png_corrupt_chunk", "PNG whose IDAT chunk fails its CRC",
         predict(M10, "{M}/folder_corrupt_png"), ["1_corrupt.png", "PNG chunk 'IDAT'", "fails its CRC check"],
         files=f)
    f = image_folder("folder_huge_png", first_in_class0=("0_aaa_huge.png", png_declaring(100000, 100000)))
    case("folder_png_huge_declared_size", "a 150-byte PNG declaring 100000×100000 pixels (the first image, "
         "whose size would become the input size)", predict(M10, "{M}/folder_huge_png"),
         ["0_aaa_huge.png", "declared size 100000x100000 exceeds the limit"], files=f)
    f = image_folder("folder_huge_png_later", extra_in_class0=("1_huge.png", png_declaring(100000, 100000)))
    case("folder_png_huge_declared_size_later", "a PNG declaring 100000×100000 pixels among normal images",
         predict(M10, "{M}/folder_huge_png_later"),
         ["1_huge.png", "declared size 100000x100000 exceeds the limit"], files=f)
    f = image_folder("folder_truncated_png", extra_in_class0=("1_truncated.png", png(32, 32)[:70]))
    case("folder_png_truncated", "PNG cut in the middle of a chunk",
         predict(M10, "{M}/folder_truncated_png"), ["1_truncated.png", "truncated file"], files=f)

    # ------------------------------------------------------------------------- models
    case("model_not_torchscript", "a text file given as the model",
         predict("{F}/not_a_model.pt", "{F}/tiny_cifar10"), ["not_a_model.pt", "not a TorchScript model"])
    f = write("zero_bytes_model.pt", b"")
    case("model_zero_bytes", "a zero-byte model file",
         predict("{M}/zero_bytes_model.pt", "{F}/tiny_cifar10"), ["zero_bytes_model.pt", "not a TorchScript model"],
         files=[f])
    f = write("truncated_model.pt", open(os.path.join(ROOT, "tests/fixtures/nan_model.pt"), "rb").read()[:2000])
    case("model_truncated", "a TorchScript archive cut short",
         predict("{M}/truncated_model.pt", "{F}/tiny_cifar10"), ["truncated_model.pt", "not a TorchScript model"],
         files=[f])
    case("model_output_not_NxC", "model output is N×10×2, not N×C logits",
         predict("{F}/bad_output_model.pt", "{F}/tiny_cifar10"),
         ["bad_output_model.pt", "model output has shape [1x10x2], expected N×C logits (2-D)"])
    case("model_produces_nan", "a model whose logits are NaN",
         predict("{F}/nan_model.pt", "{F}/tiny_cifar10"), ["nan_model.pt", "NaN or infinite logits"])
    case("model_produces_nan_analyze", "analyze with a NaN model: no report may look complete",
         "analyze -m {F}/nan_model.pt -d {F}/tiny_cifar10 -o {OUT}/report",
         ["nan_model.pt", "NaN or infinite logits"])
    case("model_wrong_input_channels", "a 1×28×28 model on a 3×32×32 dataset (the error is raised inside "
         "the TorchScript forward)", predict(MNIST_MODEL, "{F}/tiny_cifar10"),
         ["cnn_traced.pt", "forward failed on a 1x3x32x32 input",
          "expected input[1, 3, 32, 32] to have 1 channels, but got 3"])
    case("class_count_mismatch", "a 100-class model on a 10-class dataset",
         predict(M100, "{F}/tiny_cifar10"),
         ["tiny_cifar100_model.pt", "outputs 100 classes but the dataset cifar10 has 10"])
    case("layer_not_found", "--layer names a module the model does not have",
         "cam -m {F}/resnet_scripted.pt -d {F}/tiny_cifar10 -i 0 --layer layer9 -o {OUT}/cams",
         ["resnet_scripted.pt", "layer 'layer9' not found", "layer1"], exit_code=2)
    case("layer_without_spatial_output", "--layer names the final linear layer (N×C output, no spatial map)",
         "cam -m {F}/resnet_scripted.pt -d {F}/tiny_cifar10 -i 0 --layer fc -o {OUT}/cams",
         ["resnet_scripted.pt", "layer 'fc'", "no spatial"], exit_code=2)

    # camscope checkpoints whose camscope.json metadata is malformed (made with torch, ~2 KB each).
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 2, 3, padding=1)
            self.fc = torch.nn.Linear(2, 10)

        def forward(self, x):
            return self.fc(self.conv(x).mean((2, 3)))

    torch.manual_seed(0)
    tiny = torch.jit.script(Tiny().eval())
    bad_meta = {
        "meta_not_json": ("{arch: cnn", "not valid JSON"),
        "meta_bad_channels": (json.dumps({"arch": "cnn", "class_names": [], "input": {
            "channels": 2, "height": 32, "width": 32, "mean": [], "std": []}}), "input.channels = 2, expected 1 or 3"),
        "meta_zero_std": (json.dumps({"arch": "cnn", "input": {
            "channels": 3, "height": 32, "width": 32, "mean": [0.5], "std": [0.0]}}), "input.std holds 0"),
        "meta_huge_input": (json.dumps({"arch": "cnn", "input": {
            "channels": 3, "height": 1000000, "width": 32, "mean": [], "std": []}}),
            "input.height = 1000000, expected 1..65536"),
        "meta_class_names_not_strings": (json.dumps({"arch": "cnn", "class_names": [1, 2]}),
                                         "\"class_names\" holds a non-string"),
    }
    for name, (meta, problem) in bad_meta.items():
        path = os.path.join(OUT, name + ".pt")
        torch.jit.save(tiny, path, _extra_files={"camscope.json": meta})
        case("model_" + name, "camscope checkpoint with bad metadata: " + problem,
             predict("{M}/" + name + ".pt", "{F}/tiny_cifar10"),
             [name + ".pt", "camscope.json metadata is malformed", problem], files=[name + ".pt"])

    manifest = {
        "generator": "scripts/make_malformed.py",
        "placeholders": {"{M}": "tests/malformed", "{F}": "tests/fixtures", "{OUT}": "an empty temporary folder"},
        "cases": cases,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    total = sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(OUT) for x in fs)
    print(f"{len(cases)} cases, {total} bytes in {OUT}")
    if total > 1 << 20:
        sys.exit("corpus over 1 MB")


if __name__ == "__main__":
    main()
