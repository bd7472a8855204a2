#!/usr/bin/env python3
"""Measure `bpc run SPEC --json --quiet ...` like the other peers: one protocol line.

    bpc_run.py --workload W3b --peer bpc [--repeats N] [--edges 16032] -- BPC run SPEC --json --quiet ...
    bpc_run.py --workload CSV --peer bpc --data-file FILE.csv -- BPC run SPEC --data FILE.csv --json ...

Runs the command N times (BENCH_REPEATS, default 5) and reports the median throughput. bpc
times its own training loop (train_seconds, samples_per_second), so parsing the spec and
compiling are not counted, as for every other peer. Throughput: W1 counts updates (batch 1:
one per sample), W2 samples, W3 edges x samples (--edges gives the edge count). Accuracy is
bpc's "accuracy" key; a bpc that has none yet gets it computed from its per-sample
predictions for the classification workloads (W1: output >= 0.5, W2: arg max). bpc's
"runtime" (fast, native, reference) and "compiler" (the native runtime's C compiler) are
copied into the line when it reports them.

CSV measures reading the --data file instead: bpc's "data_seconds" (the seconds spent reading
the --data and --test-data CSV files), throughput in MB/s (file bytes / 10^6 / median
data_seconds) and rows_per_second. Its JSON holds a prediction per sample (200,000 of them,
~90 MB), so only the top-level numbers before them are read (by pattern, not json.loads).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

UNITS = {"W1": "updates/s", "W2": "samples/s", "W2-wide": "samples/s", "W3a": "edge-samples/s", "W3b": "edge-samples/s",
         "CSV": "MB/s"}
SCALARS = ("data_seconds", "train_seconds", "final_loss", "samples_per_second", "accuracy", "runtime", "compiler")
SCALAR = re.compile(r'"(' + "|".join(SCALARS) + r')"\s*:\s*("(?:[^"\\]|\\.)*"|null|true|false|-?[0-9][0-9.eE+-]*)')


def top_level_scalars(text):
    """The SCALARS keys of bpc's JSON object, without parsing its long lists: the first
    occurrence of each key before the "predictions" (or "parameters") value."""
    end = min((i for i in (text.find('"predictions"'), text.find('"parameters"')) if i >= 0), default=len(text))
    found = {}
    for m in SCALAR.finditer(text, 0, end):
        found.setdefault(m.group(1), json.loads(m.group(2)))
    return found


def count_rows(path):
    """Records of a CSV file: its lines less the header (the generated files quote nothing)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 24)
            if not block:
                break
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n") - 1


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
    ap.add_argument("--data-file", help="CSV: the --data file (its bytes and rows give the throughput)")
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
        runs.append(top_level_scalars(proc.stdout) if args.workload == "CSV" else json.loads(proc.stdout))

    shown = [os.path.basename(a) if os.sep in a else a for a in cmd[1:]]  # the command, briefly
    version = subprocess.run([cmd[0], "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    extra = {k: runs[-1][k] for k in ("runtime", "compiler") if runs[-1].get(k) is not None}
    if args.workload == "CSV":
        if not args.data_file:
            ap.error("CSV needs --data-file")
        seconds = [r.get("data_seconds") for r in runs]
        if any(not isinstance(x, (int, float)) or x <= 0 for x in seconds):
            sys.exit(f"bpc_run.py: this bpc reports no data_seconds (got {seconds[0]!r}); it cannot be measured on CSV")
        size, rows = os.path.getsize(args.data_file), count_rows(args.data_file)
        med = statistics.median(seconds)
        print(json.dumps({
            "workload": "CSV", "peer": args.peer, "throughput": size / 1e6 / med, "unit": UNITS["CSV"],
            "rows_per_second": rows / med, "median_seconds": med, "repeats": len(runs),
            "file_bytes": size, "rows": rows, "final_loss": None, "accuracy": None,
            "train_seconds": statistics.median(r.get("train_seconds") or 0 for r in runs),
            "version": f"bpc {version}", **extra,
            "note": args.note or "data_seconds of bpc " + " ".join(shown),
        }))
        return

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
        **extra,
        "note": args.note or "bpc " + " ".join(shown),
    }))


if __name__ == "__main__":
    main()
