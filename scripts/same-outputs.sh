#!/usr/bin/env bash
# Runs one camscope binary over a fixed set of commands on the test fixtures and writes every output
# under OUT, then a list of SHA-256 sums (OUT/sums.txt) with the run's variable fields masked
# (timings, absolute paths, dates). Two binaries that give the same sums wrote the same outputs:
#   bash scripts/same-outputs.sh build-old/camscope /tmp/old
#   bash scripts/same-outputs.sh build/camscope /tmp/new && diff /tmp/old/sums.txt /tmp/new/sums.txt
# A refactoring step that claims "byte-identical" is checked with it (issue 23).
set -euo pipefail
bin=$(realpath "$1")
out=$(realpath -m "$2")
fx=$(realpath "$(dirname "$0")/../tests/fixtures")
rm -rf "$out" && mkdir -p "$out"
cd "$out"
export OMP_WAIT_POLICY=PASSIVE
run() { echo "\$ camscope $*" >>log.txt; OMP_NUM_THREADS=1 "$bin" "$@" >>log.txt 2>&1; }
run -q analyze -m "$fx/tiny_cifar100_model.pt" -d "$fx/tiny_cifar100" -o c100
run -q analyze -m "$fx/tiny_cifar10_model.pt" -d "$fx/tiny_cifar10" -o c10
run -q analyze -m "$fx/tiny_cifar10_model.pt" -d "$fx/tiny_cifar10_folder" --method gradcampp -o c10folder
run -q analyze -m "$fx/tiny_cifar10_model.pt" -d "$fx/tiny_cifar10" --shard 0/2 -o s0
run -q analyze -m "$fx/tiny_cifar10_model.pt" -d "$fx/tiny_cifar10" --shard 1/2 -o s1
run -q merge s0 s1 -o merged
run -q analyze -m "$fx/tiny_cifar10_model.pt" -d "$fx/tiny_cifar10" --method gradcampp -o c10b
run -q compare c10 c10b -o cmp --bootstrap 200
run -q cam -m "$fx/tiny_cifar10_model.pt" -d "$fx/tiny_cifar10" -i 0-7 -t pred -t true -t 3 -o cam1
run -q cam -m "$fx/tiny_cifar10_model.pt" -d "$fx/tiny_cifar10" -i 0-3 --method finercam --contrast true -o cam2
run -q cam -m "$fx/tiny_cifar10_model.pt" -d "$fx/tiny_cifar10" -i 0-3 --raw -o cam3
# Masks: durations and this run's absolute paths (JSON: keys named for a time, e.g. "seconds",
# "timings_s", "compute_ms"; text: "0.4 s"-like durations).
/usr/bin/python3 - "$out" "$fx" >sums.txt <<'PY'
import hashlib, json, os, re, sys
out, fx = sys.argv[1], sys.argv[2]
timed = re.compile(r"^(seconds|elapsed|timings.*|.*_(s|ms|seconds))$")
def walk(v):
    if isinstance(v, dict):
        return {k: ("X" if timed.match(k) else walk(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [walk(x) for x in v]
    return v
for root, _, files in sorted(os.walk(out)):
    for name in sorted(files):
        path = os.path.join(root, name)
        rel = os.path.relpath(path, out)
        if rel == "sums.txt":
            continue
        data = open(path, "rb").read()
        try:
            text = data.decode()
        except UnicodeDecodeError:
            text = None
        if text is not None:
            text = text.replace(out, "OUT").replace(fx, "FX")
            if name.endswith(".json"):
                try:
                    text = json.dumps(walk(json.loads(text)), sort_keys=True)
                except ValueError:
                    pass
            text = re.sub(r"\b\d+(\.\d+)? ?(s|ms|min)\b", "T", text)
            data = text.encode()
        print(hashlib.sha256(data).hexdigest(), rel)
PY
echo "$(wc -l <sums.txt) files -> $out/sums.txt"
