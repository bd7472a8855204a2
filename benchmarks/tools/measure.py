#!/usr/bin/env python3
"""Run a command N times; print one JSON line with its median wall time and peak RSS.

    measure.py [--repeats N] [--field KEY=VALUE ...] [--file PATH] -- COMMAND ARGS...

Wall time is measured around fork/exec/wait of the whole process; peak RSS is the child's
maximum resident set (the largest over the runs), from GNU time's %M when /usr/bin/time
exists, else from os.wait4's ru_maxrss. Any JSON object the command prints as a
line on stdout or stderr (for example bpc compile --timings) is collected, and the median of
each numeric key over the runs is reported under "child". --field adds fixed keys to the line
(values parsed as JSON when they can be, else kept as strings); --file adds "file_bytes".
A command that fails makes measure.py print its stderr and exit with its status.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def json_lines(text):
    """The JSON objects among the lines of text."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                found.append(json.loads(line))
            except ValueError:
                pass
    return found


# Linux keeps a process's peak RSS across exec, so a child forked from this Python process
# would report at least Python's own ~15 MB. GNU time (package "time") forks from a small
# process, so its %M is the command's own peak; without it we fall back to os.wait4.
GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def run_once(cmd):
    """(wall seconds, peak RSS bytes, stdout, stderr, status) of one run."""
    # Output goes to temporary files, so no pipe can fill up and stall the child.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r") as rss_file:
        full = [GNU_TIME, "-o", rss_file.name, "-f", "%M"] + cmd if GNU_TIME else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not reap it again
        peak = usage.ru_maxrss * 1024
        if GNU_TIME:
            lines = [l for l in rss_file.read().splitlines() if l.strip().isdigit()]
            if lines:
                peak = int(lines[-1]) * 1024
        out.seek(0)
        err.seek(0)
        text_out = out.read().decode(errors="replace")
        text_err = err.read().decode(errors="replace")
    return wall, peak, text_out, text_err, proc.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=int(os.environ.get("BENCH_REPEATS", "5")))
    ap.add_argument("--field", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--file", help="a file whose size to report as file_bytes")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command given")

    walls, rss, children = [], 0, []
    for _ in range(max(1, args.repeats)):
        wall, peak, out, err, status = run_once(cmd)
        if status != 0:
            sys.stderr.write(err)
            sys.stderr.write(f"measure.py: {' '.join(cmd)} exited with status {status}\n")
            sys.exit(status if 0 < status < 256 else 1)
        walls.append(wall)
        rss = max(rss, peak)
        objects = json_lines(err) + json_lines(out)
        if objects:
            children.append(objects[-1])

    result = {}
    for field in args.field:
        key, _, value = field.partition("=")
        try:
            result[key] = json.loads(value)
        except ValueError:
            result[key] = value
    if args.file:
        result["file_bytes"] = os.path.getsize(args.file)
    result["median_seconds"] = statistics.median(walls)
    result["peak_rss_bytes"] = rss
    result["repeats"] = len(walls)
    if children:
        child = {}
        for key, value in children[-1].items():
            values = [c.get(key) for c in children]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                child[key] = statistics.median(values)
            else:
                child[key] = value
        result["child"] = child
    print(json.dumps(result))


if __name__ == "__main__":
    main()
