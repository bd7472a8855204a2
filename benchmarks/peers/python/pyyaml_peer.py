"""PyYAML peer for W4: time a full load of a YAML spec with the libyaml-based
C loader, yaml.load(f, Loader=yaml.CSafeLoader) (open + read + parse + build
the Python objects), and count the entries of the document's 'edges' list.

    pyyaml_peer.py --workload W4 --spec FILE [--repeats N]

One JSON line: workload, peer, edges, file_bytes, median_seconds,
peak_rss_bytes (getrusage ru_maxrss * 1024, i.e. the whole process's peak,
interpreter included), repeats, version. Without --repeats, it stops early
(after at least one load) when another load would take the total past ~90 s.
"""

import gc
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PEER = "PyYAML CSafeLoader"


def main():
    args = common.parse_args(PEER, default_repeats=5, supported=("W4",))
    common.set_threads(1)
    import yaml
    if not getattr(yaml, "__with_libyaml__", False) or not hasattr(yaml, "CSafeLoader"):
        common.log("PyYAML was built without libyaml: yaml.CSafeLoader is missing")
        sys.exit(4)
    from yaml import _yaml
    libyaml = _yaml.get_version_string() if hasattr(_yaml, "get_version_string") else "?"
    version = f"PyYAML {yaml.__version__} (libyaml {libyaml})"
    path = args.spec
    file_bytes = os.path.getsize(path)
    budget = None if args.repeats_given else 90.0
    counts = []

    def once(i):
        gc.collect()
        with common.Timer() as t:
            with open(path, "rb") as f:
                doc = yaml.load(f, Loader=yaml.CSafeLoader)
        edges = doc.get("edges") if isinstance(doc, dict) else None
        counts.append(len(edges) if isinstance(edges, list) else 0)
        del doc, edges
        return t.seconds, t.cpu_ratio, {}

    med, infos = common.run_repeats(f"{PEER} {os.path.basename(path)}", args.repeats, once,
                                    1, budget)
    if counts[0] == 0:
        common.log(f"warning: no 'edges' list in {path}")
    common.emit_raw({
        "workload": "W4",
        "peer": PEER,
        "edges": counts[0],
        "file_bytes": file_bytes,
        "median_seconds": med,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "repeats": len(infos),
        "version": version,
    })


if __name__ == "__main__":
    main()
