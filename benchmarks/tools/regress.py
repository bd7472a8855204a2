#!/usr/bin/env python3
"""The regression guard: this run's bpc results against a saved baseline run's.

    regress.py --baseline OLD [--new results/raw.jsonl] [--only W1,W4,...] [--tolerance 0.10]

OLD is a raw.jsonl that an earlier `benchmarks/run` wrote (saved with `--save-baseline FILE`,
or a copy of results/raw.jsonl), or a directory holding results/raw.jsonl or raw.jsonl. Only
bpc's own rows are compared (peer names starting with "bpc": "bpc", "bpc (2 threads)",
"bpc (fast runtime)", ...), each with the row of the same workload, peer name and (W4) edge
count:

- W1-W3, CSV: throughput, new / old; below 1 - tolerance is SLOWER.
- W4: bpc's parse + compile seconds (its --timings split when both runs have it, else the
  process wall time) and peak RSS, new / old; above 1 + tolerance is SLOWER / BIGGER.

A bpc row of the baseline that failed in the new run is FAILED. Rows only one side has are
listed (new, or not measured) but pass. --only limits the comparison to the workloads this
run measured (the other lines of raw.jsonl may be older). Prints a table and one summary
line; exit status 3 when anything is flagged, 0 otherwise (2: unusable input). The machine's
other load ("busy CPUs", from record.py) is shown for both runs: a flag with busy CPUs on
either side may be noise, so measure again before believing it.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import report  # noqa: E402  (benchmarks/report.py: one number format for both tables)

W4 = "W4"


def load(path):
    """(results, problems) of a raw.jsonl: bpc rows keyed by (workload, peer, edges)."""
    if os.path.isdir(path):
        for candidate in (os.path.join(path, "results", "raw.jsonl"), os.path.join(path, "raw.jsonl")):
            if os.path.isfile(candidate):
                path = candidate
                break
        else:
            sys.exit(f"regress.py: no results/raw.jsonl or raw.jsonl in {path}")
    results, problems, meta = {}, {}, None
    with open(path) as f:
        for line in f:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            if "meta" in obj:
                meta = obj["meta"]  # the latest run's
                continue
            if not str(obj.get("peer", "")).startswith("bpc"):
                continue
            key = (obj.get("workload"), obj["peer"], obj.get("edges") if obj.get("workload") == W4 else None)
            if "error" in obj or "skipped" in obj:
                problems[key] = obj.get("error") or obj.get("skipped")
            else:
                results[key] = obj  # the last line of a key wins
                problems.pop(key, None)
    return path, results, problems, meta


def w4_seconds(old, new):
    """Both runs' parse + compile seconds, measured alike: bpc's --timings when both have it."""
    def timed(r):
        child = r.get("child") or {}
        if "parse_compile_seconds" in child:
            return child["parse_compile_seconds"]
        if "parse_seconds" in child and "compile_seconds" in child:
            return child["parse_seconds"] + child["compile_seconds"]
        return None
    a, b = timed(old), timed(new)
    if a and b:
        return a, b, "parse+compile s"
    return old.get("median_seconds"), new.get("median_seconds"), "process s"


def sci(x):
    """RESULTS.md's number format (report.py), with one more digit: ratios near 0.9 need it."""
    return report.sci(x, digits=4)


def busy(r):
    b = r.get("background_cpus") if r else None
    return "-" if b is None else f"{b:.1f}"


ORDER = ["W1", "W2", "W2-wide", "W3a", "W3b", "W4", "CSV"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="a raw.jsonl, or a directory holding one")
    ap.add_argument("--new", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                  "results", "raw.jsonl"))
    ap.add_argument("--only", default="", help="comma-separated workloads to compare (default: all)")
    ap.add_argument("--tolerance", type=float, default=float(os.environ.get("BENCH_TOLERANCE", "0.10")))
    args = ap.parse_args()
    only = {w for w in args.only.split(",") if w}
    old_path, old, old_problems, old_meta = load(args.baseline)
    new_path, new, new_problems, new_meta = load(args.new)
    keys = set(old) | set(new) | set(old_problems) | set(new_problems)
    if only:
        keys = {k for k in keys if k[0] in only}
    rank = lambda k: (ORDER.index(k[0]) if k[0] in ORDER else len(ORDER), k[0] or "", k[2] or 0, k[1])

    header = ["workload", "bpc row", "measure", "old", "new", "new / old", "busy CPUs old/new", "verdict"]
    rows, flagged = [], 0
    low, high = 1 - args.tolerance, 1 + args.tolerance
    for key in sorted(keys, key=rank):
        workload, peer, edges = key
        name = f"{peer} ({edges:,} edges)" if edges else peer
        o, n = old.get(key), new.get(key)
        noise = f"{busy(o)} / {busy(n)}"
        if o and not n:
            if key in new_problems:
                rows.append([workload, name, "", "", "", "", noise, "FAILED: " + str(new_problems[key])[:80]])
                flagged += 1
            else:
                rows.append([workload, name, "", "", "", "", noise, "not measured in this run"])
            continue
        if n and not o:
            rows.append([workload, name, "", "", "", "", noise, "new (not in the baseline)"])
            continue
        if not o and not n:
            rows.append([workload, name, "", "", "", "", noise, "failed in both runs"])
            continue
        if workload == W4:
            a, b, what = w4_seconds(o, n)
            checks = [(what, a, b, "SLOWER"), ("peak RSS MB", (o.get("peak_rss_bytes") or 0) / 1e6 or None,
                                                (n.get("peak_rss_bytes") or 0) / 1e6 or None, "BIGGER")]
            for measure, a, b, word in checks:
                r = b / a if a and b else None
                bad = r is not None and r > high
                flagged += bad
                rows.append([workload, name, measure, sci(a), sci(b), "-" if r is None else f"{r:.3f}", noise,
                             f"{word} (+{(r - 1) * 100:.0f}%)" if bad else ("ok" if r is not None else "no numbers")])
        else:
            a, b = o.get("throughput"), n.get("throughput")
            r = b / a if a and b else None
            bad = r is not None and r < low
            flagged += bad
            rows.append([workload, name, o.get("unit", n.get("unit", "")), sci(a), sci(b),
                         "-" if r is None else f"{r:.3f}", noise,
                         f"SLOWER ({(r - 1) * 100:.0f}%)" if bad else ("ok" if r is not None else "no numbers")])

    def when(meta):
        if not meta:
            return "?"
        return f"{meta.get('date', '?')}, commit {meta.get('commit', '?')}{' (dirty)' if meta.get('dirty') else ''}"
    print(f"bpc against the baseline {old_path} ({when(old_meta)}); tolerance {args.tolerance:.0%}")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths]] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    if not rows:
        print("(no bpc results to compare)")
    compared = sum(1 for r in rows if r[5] not in ("", "-"))
    print(f"{compared} comparisons, {flagged} flagged"
          + (": bpc got worse than the baseline" if flagged else ": nothing worse than the baseline"))
    sys.exit(3 if flagged else 0)


if __name__ == "__main__":
    main()
