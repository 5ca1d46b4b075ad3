#!/bin/bash
# A real single-node Slurm (Debian slurm-wlm + munge: slurmctld and slurmd on localhost), started
# and stopped by this script: the 4-task array of examples/slurm/analyze-array.sbatch and the
# dependent merge.sbatch on the tiny CIFAR-10 fixture; the merged report must equal the one a
# single `camscope analyze` writes (every file, wall-clock times aside).
#
# Usage: slurm_array.sh CAMSCOPE_BINARY FIXTURES_DIR EXAMPLES_DIR
# Exit 77 (CTest: skipped) when not root or Slurm/munge are not installed; needs root because
# slurmd runs the jobs as root here and munged needs its key.
set -euo pipefail
BIN=$1 FIX=$2 EX=$3
for tool in slurmctld slurmd sbatch sinfo squeue scontrol munged; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (scripts/install-deps.sh: slurm-wlm munge)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: the single-node Slurm test runs as root (as in CI)"; exit 77; }

S=$(mktemp -d /tmp/camscope-slurm.XXXXXX)
WORK=$S/work
mkdir -p "$S/state" "$S/spool" "$S/log" "$WORK"
started_munge=0
cleanup() {
    set +e
    scancel --quiet --user root 2>/dev/null
    for f in "$S/slurmd.pid" "$S/slurmctld.pid"; do
        [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    if [ "$started_munge" = 1 ] && [ -s /run/munge/munged.pid ]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null; fi
    sleep 1
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$S"; fi
}
trap cleanup EXIT

# munge: the key and the daemon (Debian's log folder is "insecure" in a fresh container: --force).
[ -f /etc/munge/munge.key ] || mungekey -c
mkdir -p /run/munge && chown munge:munge /run/munge
if ! munge -n >/dev/null 2>&1; then
    munged --force
    started_munge=1
fi

CPUS=$(nproc)
cat > "$S/slurm.conf" <<EOF
ClusterName=camscopetest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SlurmctldLogFile=$S/log/ctld.log
SlurmdLogFile=$S/log/d.log
NodeName=localhost CPUs=$CPUS RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$S/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 120); do  # until the node is idle (polled, at most about a minute)
    sinfo -h -o '%T' 2>/dev/null | grep -qx idle && break
    sleep 0.5
done
sinfo -h -o '%T' | grep -qx idle || { echo "FAIL: the Slurm node never became idle"; sinfo; cat "$S/log/"*; exit 1; }

# The same options in the array, the merge and the single-process run.
OPTS="-b 16 --faithfulness-n 6 --pair-figures 2 --threads 1"
export CAMSCOPE=$BIN MODEL=$FIX/tiny_cifar10_model.pt DATA=$FIX/tiny_cifar10 WORK
export CAMSCOPE_ARGS=$OPTS CAMSCOPE_MERGE_ARGS="--faithfulness-n 6 --pair-figures 2 --threads 1"
export OMP_WAIT_POLICY=PASSIVE
cd "$S"
array=$(sbatch --parsable --array=0-3 "$EX/slurm/analyze-array.sbatch")
merge=$(sbatch --parsable --dependency=afterok:"$array" "$EX/slurm/merge.sbatch")
echo "array job $array, merge job $merge"

# Wait for both (no accounting database: a job has finished once squeue no longer lists it).
for _ in $(seq 1 1200); do
    [ -z "$(squeue -h -j "$array,$merge" -o %i 2>/dev/null)" ] && break
    sleep 0.5
done
if [ -n "$(squeue -h -j "$array,$merge" -o %i 2>/dev/null)" ]; then
    echo "FAIL: the jobs did not finish in 10 minutes"; squeue; exit 1
fi
for k in 0 1 2 3; do
    [ -f "$WORK/shard-$k/manifest.json" ] || { echo "FAIL: shard $k wrote no store"; cat "$S"/camscope-shard-*.out; exit 1; }
done
[ -f "$WORK/report/summary.json" ] || { echo "FAIL: the merge job wrote no report"; cat "$S"/camscope-*.out; exit 1; }

"$BIN" -q analyze --model "$MODEL" --data "$DATA" $OPTS --out "$S/single" >/dev/null

/usr/bin/python3 - "$S/single" "$WORK/report" "$WORK" <<'PY'
import json, os, re, sys
single, merged, work = sys.argv[1:4]
def files(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            data = open(p, 'rb').read()
            if rel in ('summary.json', 'store/manifest.json'):
                j = json.loads(data)
                j.get('run', {}).pop('timings_s', None); j.pop('seconds', None)
                if 'faithfulness' in j: j['faithfulness'].pop('seconds', None)
                data = json.dumps(j, sort_keys=True).encode()
            elif rel in ('analysis_summary.txt', 'index.html'):
                data = re.sub(rb'Timings:[^\n<]*', b'Timings: -', data)
            out[rel] = data
    return out
a, b = files(single), files(merged)
bad = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
rows = [json.load(open(os.path.join(work, 'shard-%d' % k, 'manifest.json')))['rows'] for k in range(4)]
print('shards:', ', '.join('%d..%d' % (r['begin'], r['end'] - 1) for r in rows))
print('files compared:', len(a))
if bad:
    print('FAIL: the merged report differs from the single-process one in', bad)
    sys.exit(1)
assert len(a) > 30 and 'store/logits.npy' in a and 'faithfulness.csv' in a
print('OK: the merged report of the 4-task Slurm array equals the single-process report')
PY
