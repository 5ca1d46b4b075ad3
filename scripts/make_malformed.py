#!/usr/bin/python3
"""Generates tests/malformed/: inputs users might feed camscope that it must refuse cleanly.

One file of ~630 lines on purpose: every case is a few lines (the bad bytes, the command, the
expected exit and message) and manifest.json is written from the same list in one run.

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
nan_model.pt, the tiny CIFAR models); made here (scripted, a few KB each): the checkpoints with bad
camscope.json metadata, a torchvision-style ResNet (forward calls `_forward_impl`) whose oneDNN
convolution crashed on grey input, models returning the wrong number of rows, one whose logits
are finite but whose gradients are NaN. The whole corpus stays well under 1 MB.
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


def cam(model, data, extra="-i 0-3"):
    return f"cam -m {model} -d {data} {extra} -o {{OUT}}/cams"


def analyze(model, data, extra=""):
    return f"analyze -m {model} -d {data} -o {{OUT}}/report{extra}"


M10 = "{F}/tiny_cifar10_model.pt"
M100 = "{F}/tiny_cifar100_model.pt"
MNIST_MODEL = "{F}/cnn_traced.pt"  # 1×28×28 -> 10


def main():
    # TorchScript writes a module's constant attributes in set order: fix Python's hash seed so
    # that the saved models come out byte for byte the same on every run.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "PYTHONHASHSEED": "0"})
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

    def save_scripted(name, module, meta=None):
        """torch.jit.script(module) saved as NAME without its *.debug_pkl records (absolute paths)."""
        import io
        import zipfile
        buf = io.BytesIO()
        extra = {"camscope.json": meta} if meta is not None else {}
        torch.jit.save(torch.jit.script(module.eval()), buf, _extra_files=extra)
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, zipfile.ZipFile(out, "w") as zout:
            for info in zin.infolist():
                if not info.filename.endswith(".debug_pkl"):
                    info.date_time = (1980, 1, 1, 0, 0, 0)
                    zout.writestr(info, zin.read(info.filename))
        return write(name, out.getvalue())

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

    round_two(torch, save_scripted, Tiny)

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


def round_two(torch, save_scripted, Tiny):
    """Issue 11 ("Reliability, round two"): models that crashed camscope or fooled it."""
    nn = torch.nn

    # 1. A scripted torchvision-style ResNet (3-channel stem 7x7/2, max-pool, basic blocks, forward
    # calling _forward_impl) on grey data. The frozen, optimised module's oneDNN convolution
    # crashed (exit 139) on the 1-channel input; the plain module must be asked first.
    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                                nn.BatchNorm2d(planes))

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
            return self.relu(out)

    class TorchvisionStyleResNet(nn.Module):
        def __init__(self, width=4):
            super().__init__()
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = nn.Sequential(BasicBlock(width, width))
            self.layer2 = nn.Sequential(BasicBlock(width, 2 * width, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(2 * width, 10)

        def _forward_impl(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer2(self.layer1(x))
            return self.fc(torch.flatten(self.avgpool(x), 1))

        def forward(self, x):
            return self._forward_impl(x)

    torch.manual_seed(1)
    f = [save_scripted("resnet_rgb_scripted.pt", TorchvisionStyleResNet()),
         write("idx_grey/t10k-images-idx3-ubyte", idx_images(5)),
         write("idx_grey/t10k-labels-idx1-ubyte", idx_labels([0, 1, 2, 3, 4]))]
    expect = ["resnet_rgb_scripted.pt", "forward failed on a 1x1x28x28 input",
              "expected input[1, 1, 28, 28] to have 3 channels, but got 1 channels instead"]
    for cmd, args in [("predict", predict("{M}/resnet_rgb_scripted.pt", "{M}/idx_grey")),
                      ("cam", cam("{M}/resnet_rgb_scripted.pt", "{M}/idx_grey")),
                      ("analyze", analyze("{M}/resnet_rgb_scripted.pt", "{M}/idx_grey"))]:
        case(f"model_rgb_on_grey_{cmd}", f"{cmd}: a scripted 3-channel torchvision-style ResNet on 1-channel "
             "IDX images (the optimised module's oneDNN convolution crashed)", args, expect, files=f)

    # 2. Models that return the wrong number of rows: only row 0 (read past its end: garbage
    # accuracy and NaN confidences), or one row too many (every prediction shifted).
    class RowsOut(nn.Module):
        def __init__(self, mode: int):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4, 10)
            self.mode = mode

        def forward(self, x):
            y = self.fc(self.conv(x).mean((2, 3)))
            if self.mode == 0:
                return y[0:1]
            return torch.cat([y, y[0:1]], 0)

    torch.manual_seed(2)
    # (The extra row is already seen on the one-image probe forward that counts the classes.)
    for mode, name, shape, inputs in [(0, "model_returns_row0", "1x10", "64 input images"),
                                      (1, "model_returns_extra_row", "2x10", "1 input image")]:
        f = [save_scripted(name + ".pt", RowsOut(mode))]
        expect = [name + ".pt", f"model output has shape [{shape}] for {inputs}", "one row per image"]
        case(name, f"a model whose output is [{shape}] for {inputs}",
             predict("{M}/" + name + ".pt", "{F}/tiny_cifar10"), expect, files=f)
        case(name + "_analyze", f"analyze: a model whose output is [{shape}] for {inputs}",
             analyze("{M}/" + name + ".pt", "{F}/tiny_cifar10", " --faithfulness-n 0"), expect, files=f)

    # 4. camscope metadata naming 5 classes on a 10-output model: predict and cam indexed the names
    # by class (exit 139), analyze noticed only after the whole pass.
    meta = json.dumps({"arch": "cnn", "class_names": CIFAR10_NAMES[:5]})
    f = [save_scripted("meta_5_names.pt", Tiny(), meta)]
    expect = ["meta_5_names.pt", "camscope.json metadata names 5 classes but the model outputs 10"]
    for cmd, args in [("predict", predict("{M}/meta_5_names.pt", "{F}/tiny_cifar10")),
                      ("cam", cam("{M}/meta_5_names.pt", "{F}/tiny_cifar10")),
                      ("analyze", analyze("{M}/meta_5_names.pt", "{F}/tiny_cifar10"))]:
        case(f"model_meta_5_names_{cmd}", f"{cmd}: camscope metadata with 5 class names on a 10-output model",
             args, expect, files=f)

    # 5. Class folders whose names are not the model's class names: refused with both lists (the
    # same names in another order are mapped by name: tests/cli, fixtures from make_extra_fixtures.py).
    names = CIFAR10_NAMES[:9] + ["lorry"]
    meta = json.dumps({"arch": "cnn", "class_names": CIFAR10_NAMES,
                       "input": {"channels": 3, "height": 32, "width": 32, "mean": [], "std": []}})
    f = [save_scripted("named_cifar10_tiny.pt", Tiny(), meta)]
    f += [write(f"folder_other_class_names/{n}/0.png", png(4, 4)) for n in names]
    case("folder_class_names_differ", "image folder whose class names are not the model's (metadata) class names",
         predict("{M}/named_cifar10_tiny.pt", "{M}/folder_other_class_names"),
         ["named_cifar10_tiny.pt", "names its classes differently from the dataset",
          "model (camscope.json): [airplane, automobile", "dataset (the class folders of",
          "only in the dataset: lorry; only in the model: truck"], files=f)

    # 7. Finite logits, NaN gradients: sqrt of an exactly-zero path (relu(a) - relu(a)) adds 0 to
    # the logits, but its derivative at 0 is infinite, times 0: NaN at the layer. cam wrote an
    # all-NaN cams.npy with exit 0; analyze reported a "mean IoU 1.00".
    class NanGrad(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4, 10)

        def forward(self, x):
            a = self.conv(x)
            zero = torch.sqrt(torch.relu(a) - torch.relu(a)).sum((1, 2, 3))
            return self.fc(a.mean((2, 3))) + zero.unsqueeze(1)

    torch.manual_seed(3)
    f = [save_scripted("nan_grad_model.pt", NanGrad())]
    expect = ["nan_grad_model.pt", "gradcam CAM of image 0", "at layer 'conv' is NaN or infinite",
              "non-finite gradients"]
    case("cam_nan_gradients", "cam: a model with finite logits and NaN gradients at the layer",
         cam("{M}/nan_grad_model.pt", "{F}/tiny_cifar10"), expect, files=f)
    case("cam_nan_gradients_analyze", "analyze: a model with finite logits and NaN gradients at the layer",
         analyze("{M}/nan_grad_model.pt", "{F}/tiny_cifar10", " --faithfulness-n 0"), expect, files=f)
    # A failure in cam's second batch: the first batch's overlay must not stay behind.
    case("cam_later_image_corrupt", "cam -b 1 over a good image and then a corrupt PNG",
         cam(M10, "{M}/folder_corrupt_png", "-i 0,1 -b 1"), ["1_corrupt.png", "fails its CRC check"])

    # 9 and 15. Image indices: parsed strictly, bounded by the dataset size, checked before any file
    # is written ("3--1" and a range up to 2^64-1 looped until out of memory; 99999 was found out
    # after two PNGs had been written).
    for name, spec, words in [
            ("cam_index_double_dash", "3--1", ["bad image index '3--1'"]),
            ("cam_index_huge_range", "0-18446744073709551615",
             ["image index 18446744073709551615 out of range: the dataset has 200 images"]),
            ("cam_index_out_of_range_last", "0,1,99999", ["image index 99999 out of range: the dataset has 200 images"]),
            ("cam_index_negative", "-1", ["bad image index '-1'"])]:
        case(name, f"cam -i {spec}", cam(M10, "{F}/tiny_cifar10", f"-i {spec} -b 1"), words, exit_code=2)

    # 16. Numeric options out of range (NaN included) are usage errors naming the valid range.
    for name, args, words in [
            ("analyze_worst_negative", analyze(M10, "{F}/tiny_cifar10", " --worst -1"), ["--worst", ">= 0"]),
            ("analyze_high_conf_nan", analyze(M10, "{F}/tiny_cifar10", " --high-conf nan"), ["--high-conf", "0..1"]),
            ("analyze_low_conf_2", analyze(M10, "{F}/tiny_cifar10", " --low-conf 2"), ["--low-conf", "0..1"]),
            ("predict_limit_negative", predict(M10, "{F}/tiny_cifar10") + " --limit -1", ["--limit", ">= 0"]),
            ("predict_threads_negative", predict(M10, "{F}/tiny_cifar10") + " --threads -2", ["--threads", ">= 0"]),
            ("predict_std_inf", predict(M10, "{F}/tiny_cifar10") + " --std inf", ["--std", "finite number > 0"]),
            ("predict_mean_nan", predict(M10, "{F}/tiny_cifar10") + " --mean nan", ["--mean", "a finite number"]),
            ("predict_input_size_junk", predict(M10, "{F}/tiny_cifar10") + " --input-size 32x32junk",
             ["--input-size must look like 32x32, got '32x32junk'"])]:
        case(name, "out-of-range option: " + args.split(" -o ")[0], args, words, exit_code=2)

    # 17. One clear line each: an input size from metadata that passes the per-side check but is
    # 4 Gpixel (a C++ stack trace from the allocator before), an unknown device.
    meta = json.dumps({"arch": "cnn", "input": {"channels": 3, "height": 65536, "width": 65536,
                                                "mean": [], "std": []}})
    f = [save_scripted("meta_input_65536.pt", Tiny(), meta)]
    case("model_meta_input_65536", "camscope metadata declaring a 65536x65536 input",
         predict("{M}/meta_input_65536.pt", "{F}/tiny_cifar10"),
         ["meta_input_65536.pt", "input size 65536x65536", "exceeds the limit of 67108864 pixels"],
         exit_code=2, files=f)
    case("model_meta_input_65536_layers", "layers: camscope metadata declaring a 65536x65536 input",
         "layers {M}/meta_input_65536.pt", ["input size 65536x65536", "exceeds the limit"], exit_code=2, files=f)
    case("device_unknown", "--device tpu:9", predict(M10, "{F}/tiny_cifar10") + " --device tpu:9",
         ["device 'tpu:9' is not a device name: expected cpu, cuda or cuda:N"], exit_code=2)

    round_three()


# ----------------------------------------------------------------------------- round three (issue 22)
def npy(array):
    """A .npy file's bytes (NumPy's own writer)."""
    import io
    b = io.BytesIO()
    np.save(b, array, allow_pickle=False)
    return b.getvalue()


def cifar10_fingerprint(records, names):
    """camscope's dataset fingerprint of a CIFAR-10 batch, computed here from its definition
    (report/identity.cpp identify_dataset + Dataset::fingerprint, docs/reliability.md): SHA-256 of
    "camscope dataset fingerprint 2", the image and class count, each class name (length, bytes),
    then for every image its index, label, width, height, channels (8-byte little-endian each) and
    its pixels as decoded (rows of interleaved RGB)."""
    import hashlib
    h = hashlib.sha256(b"camscope dataset fingerprint 2")
    u64 = lambda v: h.update(struct.pack("<Q", v))
    n = len(records) // CIFAR10_RECORD
    u64(n)
    u64(len(names))
    for name in names:
        u64(len(name.encode()))
        h.update(name.encode())
    for i in range(n):
        rec = records[i * CIFAR10_RECORD:(i + 1) * CIFAR10_RECORD]
        for v in (i, rec[0], 32, 32, 3):
            u64(v)
        h.update(np.frombuffer(rec[1:], np.uint8).reshape(3, 32 * 32).T.tobytes())  # planes -> interleaved
    return h.hexdigest()


def store(root, records, names, overrides=None):
    """A complete analysis store (report/store.hpp, schema 1) of the CIFAR-10 batch `records`,
    with random logits and 4×4 maps; `overrides` {file: bytes or ('symlink', target)}."""
    n, k = len(records) // CIFAR10_RECORD, len(names)
    labels = np.array([records[i * CIFAR10_RECORD] for i in range(n)], np.int64)
    logits = rng.normal(size=(n, k)).astype("<f4")
    cams = rng.random((n, 4, 4)).astype("<f4")
    arrays = {"index": np.arange(n, dtype="<i8"), "label": labels.astype("<i8"),
              "pred": logits.argmax(1).astype("<i8"), "logits": logits, "cam_pred": cams, "cam_true": cams,
              "degenerate": np.zeros((n, 2), np.uint8)}
    manifest = {
        "format": "camscope-store", "schema": 1, "camscope_version": "0.1.0",
        "identity": {
            "model": {"path": "/models/m.pt", "bytes": 1234, "sha256": "ab" * 32},
            "dataset": {"path": "/data/cifar8", "format": "cifar10", "name": "cifar8", "split": "test", "images": n,
                        "classes": k, "fingerprint": cifar10_fingerprint(records, names),
                        "fingerprint_of": "see docs/reliability.md"},
            "input": {"channels": 3, "height": 32, "width": 32, "mean": [], "std": []},
            "cam": {"method": "gradcam", "layer": "features", "eigen_smooth": False, "aug_smooth": False,
                    "max_channels": 0}},
        "data_flags": {"split": "test", "format": ""}, "batch_size": 4, "total": n, "shard": {"k": 0, "n": 1},
        "rows": {"begin": 0, "end": n}, "model_kind": "", "class_names": names, "coarse_names": [],
        "fine_to_coarse": [], "num_classes": k, "cam_size": {"height": 4, "width": 4}, "seconds": 0.0,
        "arrays": {name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()}}
    files = {f"{name}.npy": npy(a) for name, a in arrays.items()}
    files["manifest.json"] = json.dumps(manifest, indent=1).encode()
    files.update(overrides or {})
    out = []
    for name, data in files.items():
        if isinstance(data, tuple):  # a symbolic link (git keeps it as one)
            path = os.path.join(OUT, root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.symlink(data[1], path)
            out.append(f"{root}/{name}")
        else:
            out.append(write(f"{root}/{name}", data))
    return out


def round_three():
    # 8 CIFAR-10 images: the original, and copies changed only in the middle (image 4), which the
    # first and last 4 images (what the fingerprint covered before) do not show.
    records = cifar10_records([3, 8, 8, 0, 6, 6, 1, 6])
    names_txt = ("\n".join(CIFAR10_NAMES) + "\n").encode()
    write("cifar8/test_batch.bin", records)
    write("cifar8/batches.meta.txt", names_txt)
    relabelled = bytearray(records)
    relabelled[4 * CIFAR10_RECORD] = (relabelled[4 * CIFAR10_RECORD] + 1) % 10
    repixelled = bytearray(records)
    for j in range(4 * CIFAR10_RECORD + 1, 5 * CIFAR10_RECORD):
        repixelled[j] = 255 - repixelled[j]
    f_store = store("store8", records, CIFAR10_NAMES)
    for name, data, what in [("cifar8_relabelled", relabelled, "image 4 of 8 relabelled"),
                             ("cifar8_repixelled", repixelled, "image 4 of 8 with its pixels inverted")]:
        f = [write(f"{name}/test_batch.bin", bytes(data)), write(f"{name}/batches.meta.txt", names_txt)]
        case(f"compare_data_{name.split('_')[1]}_in_the_middle",
             f"compare --data: a copy of the analysed images with {what} (only the image count was checked)",
             f"compare {{M}}/store8 {{M}}/store8 --data {{M}}/{name} -o {{OUT}}/diff",
             [name, "is not the dataset the analyses were computed on", "the class names, labels or images differ"],
             files=f + f_store)
    # Store files that are not regular files: a link to /dev/zero (grew merge to gigabytes), and a
    # manifest that is one.
    f = store("store8_logits_dev_zero", records, CIFAR10_NAMES, {"logits.npy": ("symlink", "/dev/zero")})
    case("store_npy_link_to_dev_zero", "a store whose logits.npy is a symbolic link to /dev/zero",
         "compare {M}/store8_logits_dev_zero {M}/store8 -o {OUT}/diff",
         ["logits.npy", "is a character device, expected a regular file"], files=f + f_store)
    f = store("store8_manifest_dev_zero", records, CIFAR10_NAMES, {"manifest.json": ("symlink", "/dev/zero")})
    case("store_manifest_link_to_dev_zero", "a store whose manifest.json is a symbolic link to /dev/zero",
         "compare {M}/store8_manifest_dev_zero {M}/store8 -o {OUT}/diff",
         ["store8_manifest_dev_zero/manifest.json", "is a character device, expected a regular file"], files=f + f_store)
    nan_maps = rng.random((8, 4, 4)).astype("<f4")
    nan_maps[5, 2, 1] = np.nan
    f = store("store8_cam_nan", records, CIFAR10_NAMES, {"cam_true.npy": npy(nan_maps)})
    case("store_cam_nan", "a store whose true-class maps hold a NaN (camscope writes maps in [0, 1])",
         "compare {M}/store8_cam_nan {M}/store8 -o {OUT}/diff",
         ["cam_true.npy", "row 5 holds nan, expected a value in [0, 1]"], files=f + f_store)
    big_maps = rng.random((8, 4, 4)).astype("<f4")
    big_maps[2, 0, 0] = 3.5
    f = store("store8_cam_above_one", records, CIFAR10_NAMES, {"cam_pred.npy": npy(big_maps)})
    case("store_cam_above_one", "a store whose predicted-class maps hold 3.5",
         "compare {M}/store8_cam_above_one {M}/store8 -o {OUT}/diff",
         ["cam_pred.npy", "row 2 holds 3.5, expected a value in [0, 1]"], files=f + f_store)
    # The tags file of `camscope serve`: a link to /dev/zero grew the server to gigabytes.
    os.symlink("/dev/zero", os.path.join(OUT, "tags_dev_zero.json"))
    case("serve_tags_link_to_dev_zero", "serve --tags naming a symbolic link to /dev/zero",
         "serve -m {F}/tiny_cifar10_model.pt -d {F}/tiny_cifar10 --port 0 --tags {M}/tags_dev_zero.json",
         ["tags_dev_zero.json", "expected a regular file"], files=["tags_dev_zero.json"])


if __name__ == "__main__":
    main()
