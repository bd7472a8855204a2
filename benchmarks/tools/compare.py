#!/usr/bin/env python3
"""Compare two bpc binaries on the training workloads, interleaved in one session.

    compare.py --baseline OLD --candidate NEW [--generated DIR] [--repeats 7] [--only W2,W3b]
               [--env NAME=VALUE ...] [--markdown] [--tolerance 0.10]

For each workload and thread count, runs OLD and NEW alternately `repeats` times (so drift in
the machine's load hits both alike), each pinned with taskset (one thread: CPU 1; two threads:
CPUs 0,1), and reports bpc's own training throughput (`samples_per_second` of `bpc run
--json`; W3 counts edge-samples, W1 updates; CSV: MB/s of reading csv-data.csv, from
`data_seconds` of `bpc run csv-net.yaml --data csv-data.csv`): the median of each, and
NEW / OLD. The workloads come from workloads/generate.py (run it first, or pass --generated;
CSV needs its csv-data.csv). W1 runs each binary's default runtime.

With --tolerance T (benchmarks/run --compare BINARY passes 0.10), a NEW / OLD below 1 - T is
flagged SLOWER in the table and the exit status is 3.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bpc_run import count_rows, top_level_scalars  # noqa: E402

W3_EDGES = 16032

# workload -> (spec, extra arguments, precision, thread counts, throughput factor, unit)
WORKLOADS = {
    "W1": ("w1-xor.yaml", [], "f64", [1], 1, "updates/s"),
    "W2": ("w2-digits.yaml", [], "f32", [1, 2], 1, "samples/s"),
    "W2-wide": ("w2-digits-wide.yaml", [], "f32", [1, 2], 1, "samples/s"),
    "W3a": ("w3-dag.yaml", [], "f32", [1], W3_EDGES, "edge-samples/s"),
    "W3b": ("w3-dag.yaml", ["--batch-size", "64", "--epochs", "10"], "f32", [1, 2], W3_EDGES, "edge-samples/s"),
    # CSV: the factor is filled in with the file's MB, the rate is 1 / data_seconds.
    "CSV": ("csv-net.yaml", ["--data", "csv-data.csv", "--epochs", "1"], "f64", [1], None, "MB/s"),
}


def run(binary, spec, extra, precision, threads, env):
    cpus = "1" if threads == 1 else "0,1"
    cmd = ["taskset", "-c", cpus, binary, "run", spec, "--json", "--quiet", "--precision", precision,
           "--threads", str(threads), *extra]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"compare.py: {' '.join(cmd)} failed:\n{proc.stderr}")
    if "--data" in extra:  # CSV: a prediction per sample follows; read only the numbers before
        result = top_level_scalars(proc.stdout)
        if not result.get("data_seconds"):
            sys.exit(f"compare.py: {binary} reports no data_seconds; it cannot be compared on CSV")
        return 1 / result["data_seconds"], result.get("final_loss"), None
    result = json.loads(proc.stdout)
    return result["samples_per_second"], result.get("final_loss"), result.get("instruction_set")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--candidate", required=True)
    ap.add_argument("--generated", default=os.path.join(os.path.dirname(HERE), "generated"))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the candidate only")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--tolerance", type=float, default=None,
                    help="flag NEW / OLD below 1 - this as SLOWER, exit status 3")
    args = ap.parse_args()
    candidate_env = dict(os.environ)
    for item in args.env:
        name, _, value = item.partition("=")
        candidate_env[name] = value

    rows = []
    for workload in args.only.split(","):
        spec, extra, precision, thread_counts, factor, unit = WORKLOADS[workload]
        spec = os.path.join(args.generated, spec)
        if workload == "CSV":
            data = os.path.join(args.generated, "csv-data.csv")
            extra = [os.path.join(args.generated, a) if a == "csv-data.csv" else a for a in extra]
            factor = os.path.getsize(data) / 1e6
            print(f"compare.py: CSV {factor:.0f} MB, {count_rows(data)} rows", file=sys.stderr)
        for threads in thread_counts:
            old, new, losses = [], [], set()
            for _ in range(args.repeats):
                rate, loss, _ = run(args.baseline, spec, extra, precision, threads, os.environ)
                old.append(rate * factor)
                rate, loss2, _ = run(args.candidate, spec, extra, precision, threads, candidate_env)
                new.append(rate * factor)
                losses.add((loss, loss2))
            row = {
                "workload": workload, "threads": threads, "precision": precision, "unit": unit,
                "baseline": statistics.median(old), "candidate": statistics.median(new),
                "baseline_runs": old, "candidate_runs": new,
            }
            row["ratio"] = row["candidate"] / row["baseline"]
            row["slower"] = args.tolerance is not None and row["ratio"] < 1 - args.tolerance
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    flag = lambda r: (f" | SLOWER ({(r['ratio'] - 1) * 100:.0f}%)" if r["slower"] else " | ok") \
        if args.tolerance is not None else ""
    if args.markdown or args.tolerance is not None:
        print(f"{args.candidate} (new) against {args.baseline} (baseline), interleaved, median of {args.repeats}")
        print("| workload | threads | precision | baseline (median) | new (median) | new / baseline |"
              + (" verdict |" if args.tolerance is not None else ""))
        print("|---|---|---|---|---|---|" + ("---|" if args.tolerance is not None else ""))
        for r in rows:
            print(f"| {r['workload']} | {r['threads']} | {r['precision']} | {r['baseline']:.3g} {r['unit']} | "
                  f"{r['candidate']:.3g} | {r['ratio']:.3f}{flag(r)} |")
        if args.tolerance is not None:
            slower = sum(r["slower"] for r in rows)
            print(f"{len(rows)} comparisons, {slower} flagged (tolerance {args.tolerance:.0%})"
                  + (": bpc got slower than the baseline" if slower else ": nothing slower than the baseline"))
    else:
        print(json.dumps(rows))
    if any(r["slower"] for r in rows):
        sys.exit(3)


if __name__ == "__main__":
    main()
