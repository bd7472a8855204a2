#!/usr/bin/env python3
"""Compare two bpc binaries on the training workloads, interleaved in one session.

    compare.py --baseline OLD --candidate NEW [--generated DIR] [--repeats 7] [--only W2,W3b]
               [--env NAME=VALUE ...] [--markdown]

For each workload and thread count, runs OLD and NEW alternately `repeats` times (so drift in
the machine's load hits both alike), each pinned with taskset (one thread: CPU 1; two threads:
CPUs 0,1), and reports bpc's own training throughput (`samples_per_second` of `bpc run
--json`; W3 counts edge-samples, W1 updates): the median of each, and NEW / OLD. The
workloads come from workloads/generate.py (run it first, or pass --generated).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
W3_EDGES = 16032

# workload -> (spec, extra arguments, precision, thread counts, throughput factor, unit)
WORKLOADS = {
    "W1": ("w1-xor.yaml", [], "f64", [1], 1, "updates/s"),
    "W2": ("w2-digits.yaml", [], "f32", [1, 2], 1, "samples/s"),
    "W2-wide": ("w2-digits-wide.yaml", [], "f32", [1, 2], 1, "samples/s"),
    "W3a": ("w3-dag.yaml", [], "f32", [1], W3_EDGES, "edge-samples/s"),
    "W3b": ("w3-dag.yaml", ["--batch-size", "64", "--epochs", "10"], "f32", [1, 2], W3_EDGES, "edge-samples/s"),
}


def run(binary, spec, extra, precision, threads, env):
    cpus = "1" if threads == 1 else "0,1"
    cmd = ["taskset", "-c", cpus, binary, "run", spec, "--json", "--quiet", "--precision", precision,
           "--threads", str(threads), *extra]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"compare.py: {' '.join(cmd)} failed:\n{proc.stderr}")
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
    args = ap.parse_args()
    candidate_env = dict(os.environ)
    for item in args.env:
        name, _, value = item.partition("=")
        candidate_env[name] = value

    rows = []
    for workload in args.only.split(","):
        spec, extra, precision, thread_counts, factor, unit = WORKLOADS[workload]
        spec = os.path.join(args.generated, spec)
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
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    if args.markdown:
        print("| workload | threads | precision | baseline (median) | new (median) | new / baseline |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['workload']} | {r['threads']} | {r['precision']} | {r['baseline']:.3g} {r['unit']} | "
                  f"{r['candidate']:.3g} | {r['ratio']:.3f} |")
    else:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
