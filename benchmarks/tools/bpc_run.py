#!/usr/bin/env python3
"""Measure `bpc run SPEC --json --quiet ...` like the other peers: one protocol line.

    bpc_run.py --workload W3b --peer bpc [--repeats N] [--edges 16032] -- BPC run SPEC --json --quiet ...

Runs the command N times (BENCH_REPEATS, default 5) and reports the median throughput. bpc
times its own training loop (train_seconds, samples_per_second), so parsing the spec and
compiling are not counted, as for every other peer. Throughput: W1 counts updates (batch 1:
one per sample), W2 samples, W3 edges x samples (--edges gives the edge count). Accuracy is
bpc's "accuracy" key; a bpc that has none yet gets it computed from its per-sample
predictions for the classification workloads (W1: output >= 0.5, W2: arg max).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

UNITS = {"W1": "updates/s", "W2": "samples/s", "W2-wide": "samples/s", "W3a": "edge-samples/s", "W3b": "edge-samples/s"}


def accuracy_from_predictions(workload, predictions):
    if not predictions or workload not in ("W1", "W2", "W2-wide"):
        return None
    correct = 0
    for p in predictions:
        out, target = p["out"], p["target"]
        if len(out) == 1:
            correct += (out[0] >= 0.5) == (target[0] >= 0.5)
        else:
            correct += max(range(len(out)), key=out.__getitem__) == max(range(len(target)), key=target.__getitem__)
    return correct / len(predictions)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", required=True, choices=sorted(UNITS))
    ap.add_argument("--peer", default="bpc")
    ap.add_argument("--repeats", type=int, default=int(os.environ.get("BENCH_REPEATS", "5")))
    ap.add_argument("--edges", type=int, default=0, help="edges per sample (W3)")
    ap.add_argument("--note", default="")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no bpc command given")

    runs = []
    for _ in range(max(1, args.repeats)):
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            sys.exit(f"bpc_run.py: {' '.join(cmd)} exited with status {proc.returncode}")
        runs.append(json.loads(proc.stdout))

    factor = args.edges if args.workload.startswith("W3") else 1
    rates = [factor * r["samples_per_second"] for r in runs]
    median_rate = statistics.median(rates)
    # The run whose throughput is the median (the upper one for an even count) gives the rest.
    chosen = runs[sorted(range(len(runs)), key=rates.__getitem__)[len(runs) // 2]]
    accuracy = chosen.get("accuracy")
    if args.workload.startswith("W3"):
        accuracy = None  # regression: an arg-max accuracy means nothing here
    elif accuracy is None:
        accuracy = accuracy_from_predictions(args.workload, chosen.get("predictions"))
    shown = [os.path.basename(a) if os.sep in a else a for a in cmd[1:]]  # the command, briefly
    version = subprocess.run([cmd[0], "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    print(json.dumps({
        "workload": args.workload,
        "peer": args.peer,
        "throughput": median_rate,
        "unit": UNITS[args.workload],
        "median_seconds": statistics.median(r["train_seconds"] for r in runs),
        "repeats": len(runs),
        "final_loss": chosen.get("final_loss"),
        "accuracy": accuracy,
        "version": f"bpc {version}",
        "note": args.note or "bpc " + " ".join(shown),
    }))


if __name__ == "__main__":
    main()
