#!/usr/bin/env python3
"""Write benchmarks/RESULTS.md from benchmarks/results/raw.jsonl.

    report.py [--raw results/raw.jsonl] [--out RESULTS.md]

raw.jsonl holds one JSON object per line: a {"meta": ...} line from benchmarks/run, then the
peers' result lines (the output protocol of benchmarks/README.md), plus {"error": ...} or
{"skipped": ...} lines for peers that produced nothing. The machine description is read
here, so run the report on the machine that ran the measurements.
"""

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = [
    ("W1", "W1 xor-online: 2-2-1 sigmoid, BCE, SGD batch 1, lr 0.5, 10,000 epochs (40,000 updates), binary64"),
    ("W2", "W2 digits-mlp: 64 -> 64 tanh -> 10, softmax CE, batch 32, lr 0.1, 50 epochs, binary32"),
    ("W2-wide", "W2-wide: 64 -> 256 tanh -> 256 tanh -> 10, otherwise as W2"),
    ("W3a", "W3a sparse-dag: 16,032 edges, batch 1, one epoch of 1,024 samples, binary32"),
    ("W3b", "W3b sparse-dag: batch 64, 10 epochs (10,240 samples), binary32"),
]
ALL_WORKLOADS = "W1,W2,W2-wide,W3a,W3b,W4,CSV"  # benchmarks/run's default --only
# The anchor machine, for scale: how this machine compares with the one the targets
# were set on.
ANCHOR = {
    "W1": "hand C 2.3e7 updates/s, FANN 9.2e6",
    "W2": "C+OpenBLAS (fast-math tanh) 2.9e6 samples/s",
    "W2-wide": "C+OpenBLAS 1.6e5 samples/s",
    "W3a": "hand C over CSR 1.4e8 edge-samples/s (2.3e8 with fast-math)",
    "W3b": "hand C 4.2e8 edge-samples/s (3.0e9 with fast-math vector tanh)",
}
LINEAR_EXPONENT = 1.1  # a log-log growth exponent up to this counts as linear


# ---------------------------------------------------------------------------------------------
# Formatting

def sci(x, digits=3):
    """2.28e7 rather than 2.28e+07; plain for numbers that read well plainly."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    if 0.01 <= abs(x) < 10000:
        return f"{x:.{digits}g}"
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def ratio_text(r):
    if r is None:
        return "–"
    return f"{r:.3g}x" if r < 100 else f"{r:.0f}x"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The machine

def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    lscpu = run(["lscpu"])
    field = lambda name: (re.search(rf"^{re.escape(name)}:\s*(.+)$", lscpu, re.M) or [None, "?"])[1].strip()
    flags = set(field("Flags").split())
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
            mem = f"{kb / 1024 ** 2:.1f} GiB"
    except (OSError, AttributeError):
        pass
    os_name = "?"
    try:
        with open("/etc/os-release") as f:
            os_name = re.search(r'PRETTY_NAME="?([^"\n]+)', f.read()).group(1)
    except (OSError, AttributeError):
        pass
    return [
        ("CPU", field("Model name")),
        ("cores", f"{field('CPU(s)')} logical, {field('Thread(s) per core')} thread(s) per core"),
        ("vector extensions", ", ".join(f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl") if f in flags) or "none of avx2/avx512"),
        ("caches", f"L1d {field('L1d cache')}, L2 {field('L2 cache')}, L3 {field('L3 cache')}"),
        ("memory", mem),
        ("OS", f"{os_name}, Linux {platform.release()}"),
        ("hypervisor", field("Hypervisor vendor")),
    ]


# ---------------------------------------------------------------------------------------------
# Results

def load(path):
    metas, results, problems = [], [], []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                print(f"report.py: {path}:{number}: not JSON, ignored", file=sys.stderr)
                continue
            if "meta" in obj:
                metas.append(obj["meta"])
            elif "error" in obj or "skipped" in obj:
                problems.append(obj)
            else:
                results.append(obj)
    return metas, results, problems


def run_description(metas):
    """When and how the results were measured: the first run, then any --only re-runs."""
    if not metas:
        return "Measured on an unknown date"
    def one(m):
        return (f"{m.get('date', '?')} at commit {m.get('commit', '?')}"
                + (" (with uncommitted changes)" if m.get("dirty") else "")
                + f", median of {m.get('repeats', '?')} repeat(s)"
                + (", quick run: no 10^6-edge spec, no slow peers" if m.get("quick") else ""))
    text = f"Measured {one(metas[0])}"
    if metas[0].get("only", "") not in (ALL_WORKLOADS, ALL_WORKLOADS.replace(",CSV", "")):
        text += f" (only {metas[0].get('only')})"
    for m in metas[1:]:
        text += f"; {m.get('only', '?')} re-measured {one(m)}"
    return text


def is_bpc(r):
    return r.get("peer", "").startswith("bpc")


def best(rows, predicate):
    found = [r for r in rows if predicate(r) and r.get("throughput")]
    return max(found, key=lambda r: r["throughput"]) if found else None


def find_peer(rows, pattern, exclude=None):
    """The fastest row whose peer name matches the regular expression (case-insensitive)."""
    def ok(r):
        name = r.get("peer", "")
        return (not is_bpc(r) and re.search(pattern, name, re.I)
                and not (exclude and re.search(exclude, name, re.I)))
    return best(rows, ok)


def bpc_rows(rows):
    one = next((r for r in rows if r.get("peer") == "bpc"), None)
    many = [r for r in rows if is_bpc(r) and r is not one and r.get("throughput")]
    return one, (max(many, key=lambda r: r["throughput"]) if many else None)


NOISY = 0.3  # average CPUs busy with other work during a measurement above which we warn


def noise_note(rows):
    noisy = [r for r in rows if (r.get("background_cpus") or 0) >= NOISY]
    if not noisy:
        return []
    listed = ", ".join(f"{r.get('peer')}{' (' + format(r['edges'], ',') + ' edges)' if r.get('edges') else ''}"
                       f" {r['background_cpus']:.1f}" for r in noisy)
    return ["", f"Warning: other work kept CPUs busy during these measurements (average busy CPUs besides "
                f"the peer): {listed}. Their numbers are low by up to that share of the machine."]


def workload_section(workload, title, rows, problems):
    out = [f"### {title}", ""]
    rows = [r for r in rows if r.get("workload") == workload]
    if not rows:
        out.append("No results.")
    else:
        unit = rows[0].get("unit", "")
        one, multi = bpc_rows(rows)
        header = ["peer", f"throughput ({unit})", "median s", "final loss", "accuracy"]
        if one:
            header.append("bpc / peer")
        if multi:
            header.append(f"{multi['peer']} / peer")
        header += ["version", "note"]
        body = []
        for r in sorted(rows, key=lambda r: -(r.get("throughput") or 0)):
            row = [("**" + r["peer"] + "**") if is_bpc(r) else r.get("peer", "?"),
                   sci(r.get("throughput")), sci(r.get("median_seconds")), sci(r.get("final_loss"), 4),
                   "–" if r.get("accuracy") is None else f"{r['accuracy']:.4f}"]
            for b in (one, multi):
                if b:
                    row.append("–" if b is r or not r.get("throughput") else ratio_text(b["throughput"] / r["throughput"]))
            note = r.get("note", "")
            if r.get("runtime"):
                note += f" (runtime: {r['runtime']}" + (f", C compiler {r['compiler']}" if r.get("compiler") else "") + ")"
            row += [r.get("version", ""), note]
            body.append(row)
        out.append(table(header, body))
        out += noise_note(rows)
    missing = [p for p in problems if p.get("workload") == workload]
    if missing:
        out += ["", "Not measured:", ""]
        out += [f"- {p.get('peer')}: {p.get('error') or p.get('skipped')}" for p in missing]
    if workload in ANCHOR:
        out += ["", f"Anchor machine (issue): {ANCHOR[workload]}."]
    return "\n".join(out)


def csv_section(results, problems):
    """CSV loading: MB/s and rows/s of reading csv-data.csv into float64 arrays."""
    rows = [r for r in results if r.get("workload") == "CSV"]
    out = ["### CSV loading: an ~80 MB numeric CSV (200,000 rows x 20 columns) into float64 arrays", ""]
    if not rows:
        out.append("No results.")
    else:
        one = next((r for r in rows if r.get("peer") == "bpc"), None)
        f = rows[0].get("file_bytes")
        if f:
            out += [f"File: {f / 1e6:.1f} MB, {rows[0].get('rows', 0):,} rows. bpc: `data_seconds` of "
                    "`bpc run csv-net.yaml --data csv-data.csv --epochs 1 --json --threads 1` (reading the "
                    "file, every field to the nearest binary64); the peers: in-process loads ending in a "
                    "float64 numpy array. Median of each peer's repeats.", ""]
        header = ["peer", "MB/s", "rows/s", "median s"] + (["bpc / peer"] if one else []) + ["version", "note"]
        body = []
        for r in sorted(rows, key=lambda r: -(r.get("throughput") or 0)):
            row = [("**" + r["peer"] + "**") if is_bpc(r) else r.get("peer", "?"), sci(r.get("throughput")),
                   sci(r.get("rows_per_second")), sci(r.get("median_seconds"))]
            if one:
                row.append("–" if one is r or not r.get("throughput") else ratio_text(one["throughput"] / r["throughput"]))
            row += [r.get("version", ""), r.get("note", "")]
            body.append(row)
        out.append(table(header, body))
        out += noise_note(rows)
    missing = [p for p in problems if p.get("workload") == "CSV"]
    if missing:
        out += ["", "Not measured:", ""]
        out += [f"- {p.get('peer')}: {p.get('error') or p.get('skipped')}" for p in missing]
    return "\n".join(out)


def fit_exponent(points):
    """Least-squares slope of log(y) against log(x): y ~ x^slope."""
    points = [(x, y) for x, y in points if x and y and x > 0 and y > 0]
    if len(points) < 2:
        return None
    lx = [math.log(x) for x, _ in points]
    ly = [math.log(y) for _, y in points]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / den if den else None


def bpc_w4_seconds(r):
    """bpc's parse + compile seconds from its --timings line, else the whole process's wall time."""
    child = r.get("child") or {}
    if "parse_compile_seconds" in child:
        return child["parse_compile_seconds"], True
    if "parse_seconds" in child and "compile_seconds" in child:
        return child["parse_seconds"] + child["compile_seconds"], True
    return r.get("median_seconds"), False


def floor_seconds(r, in_process):
    """The libyaml loop's in-process parse time (when it reported one), or its process's wall
    time: the one comparable with bpc's time (in-process timings, or process wall time)."""
    child = r.get("child") or {}
    return child.get("median_seconds", r.get("median_seconds")) if in_process else r.get("median_seconds")


def w4_section(results, problems):
    rows = [r for r in results if r.get("workload") == "W4"]
    out = ["### W4 scale: parse + compile of specs with N explicit edges", ""]
    if not rows:
        return "\n".join(out + ["No results."]), None
    sizes = sorted({r.get("edges") for r in rows if isinstance(r.get("edges"), int)})
    others = sorted({r["peer"] for r in rows if not is_bpc(r) and not r["peer"].startswith("libyaml event loop")})
    header = ["edges", "file MB", "bpc parse+compile s", "bpc process s", "libyaml loop s (in-process / process)"]
    header += [f"{p} s" for p in others]
    # Time ratios here (above 1: bpc is slower), unlike the throughput ratios of W1-W3.
    header += ["bpc time / libyaml"] + [f"bpc time / {p}" for p in others] + ["bpc peak RSS MB", "RSS / file size"]
    body, growth, floor_growth, rss_growth, summary = [], [], [], [], {}
    any_timings = False
    for n in sizes:
        at = [r for r in rows if r.get("edges") == n]
        bpc = next((r for r in at if is_bpc(r)), None)
        floor = next((r for r in at if r["peer"].startswith("libyaml event loop")), None)
        file_bytes = next((r.get("file_bytes") for r in at if r.get("file_bytes")), None)
        b_s, timed = bpc_w4_seconds(bpc) if bpc else (None, False)
        any_timings |= timed
        f_s = floor_seconds(floor, timed) if floor else None
        rss = bpc.get("peak_rss_bytes") if bpc else None
        row = [f"{n:,}", sci(file_bytes / 1e6 if file_bytes else None),
               sci(b_s) if timed else "–", sci(bpc.get("median_seconds")) if bpc else "–",
               f"{sci(floor_seconds(floor, True))} / {sci(floor.get('median_seconds'))}" if floor else "–"]
        other_s = []
        for p in others:
            r = next((r for r in at if r["peer"] == p), None)
            other_s.append(r.get("median_seconds") if r else None)
            row.append(sci(other_s[-1]))
        row.append(ratio_text(b_s / f_s) if b_s and f_s else "–")
        row += [ratio_text(b_s / s) if b_s and s else "–" for s in other_s]
        row += [sci(rss / 1e6 if rss else None), ratio_text(rss / file_bytes) if rss and file_bytes else "–"]
        body.append(row)
        growth.append((n, b_s))
        floor_growth.append((n, f_s))
        rss_growth.append((n, rss))
        summary = {"edges": n, "bpc_s": b_s, "floor_s": f_s, "rss": rss, "file_bytes": file_bytes, "timed": timed}
    out.append(table(header, body))
    out += noise_note(rows)
    # Growth from 10^4 edges up: at 10^3 fixed costs (process start, tables) still dominate.
    big = lambda pts: [p for p in pts if p[0] >= 10000] if len([p for p in pts if p[0] >= 10000]) >= 2 else pts
    exponent = fit_exponent(big(growth))
    summary["exponent"] = exponent
    summary["rss_exponent"] = fit_exponent(big(rss_growth))
    out += ["", f"Growth exponents (log-log least squares over sizes >= 10^4 edges; 1.0 = linear): "
            f"bpc time {sci(exponent)}, libyaml loop {sci(fit_exponent(big(floor_growth)))}, "
            f"bpc peak RSS {sci(summary['rss_exponent'])}.", ""]
    out.append("bpc parse+compile is the parse and compile time that `bpc compile --timings` reports "
               "(writing the plan is left out); it is compared with libyaml's in-process event loop. "
               "Process times are whole-process wall times from tools/measure.py, and peak RSS is "
               "the whole process's maximum resident set."
               if any_timings else
               "This bpc has no `compile --timings`: its time is the whole process's wall time "
               "(including writing the plan) and is compared with the libyaml loop's whole process.")
    missing = [p for p in problems if p.get("workload") == "W4"]
    if missing:
        out += ["", "Not measured:", ""]
        out += [f"- {p.get('peer')} ({p.get('edges', '?')} edges): {p.get('error') or p.get('skipped')}" for p in missing]
    return "\n".join(out), summary


def verdict(ratio, target, higher_is_better=True):
    if ratio is None:
        return "–", "not measured"
    if higher_is_better:
        if ratio >= target:
            return ratio_text(ratio), f"met ({ratio / target:.2f}x the target)"
        return ratio_text(ratio), f"missed: needs {target / ratio:.2f}x more"
    if ratio <= target:
        return ratio_text(ratio), f"met ({target / ratio:.2f}x margin)"
    return ratio_text(ratio), f"missed: {ratio / target:.2f}x over"


def targets_section(results, w4):
    by = lambda w: [r for r in results if r.get("workload") == w]
    rows = []

    def add(target, workload, bpc_pick, peer, goal):
        rows_w = by(workload)
        one, multi = bpc_rows(rows_w)
        b = one if bpc_pick == "one" else max((x for x in (one, multi) if x), key=lambda r: r["throughput"], default=None)
        r = b["throughput"] / peer["throughput"] if b and peer else None
        shown, text = verdict(r, goal)
        compared = f"{b['peer'] if b else 'bpc'} vs {peer['peer'] if peer else '(no result)'}"
        rows.append([target, compared, shown, text])

    # Issue 12's targets, in its order.
    add("W1 >= 1x hand C -O3", "W1", "one", find_peer(by("W1"), r"^hand C -O3$"), 1)
    add("CSV >= 1x pandas' C reader", "CSV", "one", find_peer(by("CSV"), r"^pandas read_csv \(C engine\)$"), 1)
    if w4:
        n = f"{w4['edges']:,}"
        r = w4["bpc_s"] / w4["floor_s"] if w4.get("bpc_s") and w4.get("floor_s") else None
        rows.append([f"W4 {n}-edge parse+compile <= 2x libyaml event loop",
                     "bpc " + ("parse+compile" if w4["timed"] else "process wall") + " vs libyaml loop", *verdict(r, 2, False)])
        r = w4["rss"] / w4["file_bytes"] if w4.get("rss") and w4.get("file_bytes") else None
        rows.append([f"W4 {n}-edge peak memory <= 2x file size", "bpc peak RSS / file bytes", *verdict(r, 2, False)])
        e = w4.get("exponent")
        rows.append(["W4 growth linear", f"time exponent (<= {LINEAR_EXPONENT} counts as linear)",
                     sci(e), "not measured" if e is None else ("met" if e <= LINEAR_EXPONENT else f"missed: exponent {e:.2f}")])
        if w4["edges"] < 1000000:
            rows[-3][0] += " (the target is at 1,000,000 edges: not measured in this run)"
    else:
        rows += [["W4 1,000,000-edge parse+compile <= 2x libyaml event loop", "", "–", "not measured"],
                 ["W4 1,000,000-edge peak memory <= 2x file size", "", "–", "not measured"],
                 ["W4 growth linear", "", "–", "not measured"]]
    add("W3a >= 1x hand C CSR -O3", "W3a", "one", find_peer(by("W3a"), r"^hand C", exclude=r"fast-math"), 1)
    jax_w2 = find_peer(by("W2"), r"jax.*scan|scan.*jax") or find_peer(by("W2"), r"jax")
    add("W2 >= 1x JAX jit+scan", "W2", "best", jax_w2, 1)
    jax_wide = find_peer(by("W2-wide"), r"jax.*scan|scan.*jax") or find_peer(by("W2-wide"), r"jax")
    add("W2-wide >= 1x JAX jit+scan", "W2-wide", "best", jax_wide, 1)
    add("W3b >= 1x hand C CSR -O3 -ffast-math", "W3b", "best", find_peer(by("W3b"), r"^hand C.*fast-math"), 1)
    return table(["target", "compared", "measured", "verdict"], rows)


def versions_section(results):
    seen = {}
    for r in results:
        peer, version = r.get("peer", "?"), r.get("version")
        if version and peer not in seen:
            seen[peer] = version
    return table(["peer", "version"], sorted(seen.items())) if seen else "No versions recorded."


KEPT_PREFIX = "## Before/after"


def kept_sections(path):
    """Sections of the existing report whose heading starts with KEPT_PREFIX (hand-written
    comparisons of two builds, tools/compare.py), carried over verbatim: this script writes
    everything else from raw.jsonl."""
    if not os.path.exists(path):
        return []
    kept, keeping = [], False
    for line in open(path).read().splitlines():
        if line.startswith("## "):
            keeping = line.startswith(KEPT_PREFIX)
        if keeping:
            kept.append(line)
    return kept + [""] if kept else []


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", default=os.path.join(HERE, "results", "raw.jsonl"))
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    metas, results, problems = load(args.raw)

    w4_text, w4_summary = w4_section(results, problems)
    parts = [
        "# bpc benchmark results",
        "",
        run_description(metas)
        + ". Written by `benchmarks/run` (see benchmarks/README.md); raw lines in benchmarks/results/raw.jsonl.",
        "",
        "Ratios in W1-W3 and CSV are bpc's throughput divided by the peer's (above 1: bpc is faster); "
        "throughput counts only the training loop in W1-W3 and only reading the CSV file in CSV, for every "
        "peer. W4 times parsing and compiling, and its ratios are of times (above 1: bpc is slower). "
        "The targets are issue 12's; for W2, W2-wide and W3b bpc's best configuration (1 or 2 threads) counts, "
        "elsewhere the one-thread row named bpc (W1: its default runtime).",
        "",
        "## Targets",
        "",
        targets_section(results, w4_summary),
        "",
        "## Machine",
        "",
        table(["", ""], machine()),
        "",
        "## Versions",
        "",
        versions_section(results),
        "",
        "## Results",
        "",
    ]
    for workload, title in WORKLOADS:
        parts += [workload_section(workload, title, results, problems), ""]
    parts += [w4_text, ""]
    parts += [csv_section(results, problems), ""]
    parts += kept_sections(args.out)
    with open(args.out, "w") as f:
        f.write("\n".join(parts))
    print(f"report.py: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
