#!/usr/bin/env bash
# The CLI on the GPU against the CPU, on the test fixtures: `cam` maps (every method) and `analyze`
# (predictions, accuracy, the report's files). Usage: cli-cuda.sh path/to/camscope
set -uo pipefail
C=$1; F=tests/fixtures; W=$(mktemp -d); fail=0
for dev in ${DEVS:-cpu cuda}; do
  for m in gradcam gradcampp hirescam layercam eigencam scorecam ablationcam finercam; do
    NVIDIA_TF32_OVERRIDE=0 $C cam -m $F/tiny_cifar10_model.pt -d $F/tiny_cifar10 -i 0-31 -t pred -t true --method $m --device $dev -o $W/$dev-$m >/dev/null 2>$W/$dev-$m.err || { echo "cam $m on $dev FAILED: $(tail -2 $W/$dev-$m.err)"; fail=1; }
  done
  t0=$(date +%s.%N)
  $C analyze -m $F/tiny_cifar100_model.pt -d $F/tiny_cifar100 --device $dev -o $W/report-$dev >/dev/null 2>$W/analyze-$dev.err || { echo "analyze on $dev FAILED"; fail=1; }
  echo "analyze on $dev: $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || python3 -c "print($(date +%s.%N) - $t0)") s"
done
${PY:-python3} - "$W" <<'PY' || fail=1
import json, sys, numpy as np, os
w = sys.argv[1]; worst = 0; bad = []
for m in "gradcam gradcampp hirescam layercam eigencam scorecam ablationcam finercam".split():
    try:
        a = np.load(f"{w}/cpu-{m}/cams.npy"); b = np.load(f"{w}/cuda-{m}/cams.npy")
    except Exception as e:
        print(m, "missing", e); bad.append(m); continue
    d = float(np.abs(a - b).max()); worst = max(worst, d)
    print(f"cam {m:12s} cuda vs cpu: max |diff| {d:.2e} over {a.shape}")
    if d > 1e-3: bad.append(m)
sa = json.load(open(f"{w}/report-cpu/summary.json")); sb = json.load(open(f"{w}/report-cuda/summary.json"))
def acc(s): return (s["overall"]["top1"], s["overall"]["top5"], s["confusion_matrix"])
print("analyze top-1 cpu", sa["overall"]["top1"], "cuda", sb["overall"]["top1"], "; confusion matrices equal:", sa["confusion_matrix"] == sb["confusion_matrix"])
fa = sorted(os.listdir(f"{w}/report-cpu")); fb = sorted(os.listdir(f"{w}/report-cuda"))
print("report files equal:", fa == fb, len(fa))
if bad or acc(sa) != acc(sb) or fa != fb: print("MISMATCH", bad); sys.exit(1)
print("CLI cuda == cpu: OK")
PY
[ -n "${KEEP:-}" ] && echo "$W" || rm -rf "$W"
exit $fail
