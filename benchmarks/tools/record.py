#!/usr/bin/env python3
"""Run one peer measurement and append its JSON result lines to raw.jsonl, whatever happens.

    record.py --raw RESULTS/raw.jsonl --log LOGFILE --peer NAME --workload W
              [--set KEY=VALUE ...] [--timeout SECONDS] -- COMMAND ARGS...

The command follows the output protocol: one JSON object per line on stdout. Each such line
is appended to raw.jsonl, completed with the --set keys it lacks (for example the edge count
of a W4 spec) and with "background_cpus": how many CPUs, on average, were busy with other
work while it ran (from /proc/stat, less the peer's own CPU time). Standard error and any other output go to LOGFILE. A command that fails, times
out or prints no result still leaves one line, {"workload", "peer", "error": ...} or
{"workload", "peer", "skipped": ...}, so the report can say what is missing and why, and the
harness goes on with the next peer. Exit status: always 0 (failures are data here).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq = fields[:7]
    steal = fields[7] if len(fields) > 7 else 0
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--peer", required=True, help="the peer's name when it prints none")
    ap.add_argument("--workload", required=True)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("BENCH_TIMEOUT", "1800")))
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    defaults = {}
    for item in args.set:
        key, _, value = item.partition("=")
        defaults[key] = parse_value(value)

    os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
    base = {"workload": args.workload, "peer": args.peer}
    lines, error, skipped = [], None, None
    start = time.time()
    # Other work on the machine during the run (another build, a second benchmark) skews the
    # numbers; measure it as the machine's busy CPU time not spent by this peer.
    busy0, own0 = busy_cpu_seconds(), children_cpu_seconds()
    with open(args.log, "a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, timeout=args.timeout, text=True)
            out, status = proc.stdout, proc.returncode
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            status, error = None, f"timed out after {args.timeout:.0f} s"
        except OSError as e:
            out, status, error = "", None, f"could not start: {e}"
        for line in out.splitlines():
            text = line.strip()
            parsed = None
            if text.startswith("{"):
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = None
            if isinstance(parsed, dict):
                lines.append({**defaults, **parsed})
            elif text:
                log.write(text + "\n")
        if status not in (0, None) and error is None:
            error = f"exit status {status}"
        if error is None and not lines:
            skipped = "printed no result (workload not supported by this peer?)"
        wall = time.time() - start
        log.write(f"# {error or skipped or 'ok'} ({wall:.1f} s)\n")
    busy1, own1 = busy_cpu_seconds(), children_cpu_seconds()
    if busy0 is not None and wall > 0:
        # Average number of CPUs busy with something else while the peer ran.
        background = max(0.0, ((busy1 - busy0) - (own1 - own0)) / wall)
        lines = [{**line, "background_cpus": round(background, 2)} for line in lines]

    if error:
        # The last lines of the log usually say why; keep them short for the report.
        with open(args.log) as log:
            tail = [l.strip() for l in log.read().splitlines() if l.strip() and not l.startswith(("$ ", "# "))][-3:]
        if tail:
            error += ": " + " | ".join(tail)[-400:]
    with open(args.raw, "a") as raw:
        for line in lines:
            raw.write(json.dumps(line) + "\n")
        if error:
            raw.write(json.dumps({**base, **defaults, "error": error}) + "\n")
        elif skipped:
            raw.write(json.dumps({**base, **defaults, "skipped": skipped}) + "\n")
    status_text = error or skipped or f"{len(lines)} result(s)"
    print(f"  {args.workload:8s} {args.peer:40s} {status_text[:160]}", file=sys.stderr)


if __name__ == "__main__":
    main()
