"""CSV loading peers: read generated/csv-data.csv (200,000 rows x 20 numeric columns, ~80 MB)
into a float64 numpy array, in process, the work `bpc run --data` does before training
(bpc's data_seconds: read the file, parse every field to the nearest binary64, end with
float64 arrays).

    csv_peer.py --workload CSV --generated DIR --reader NAME [--repeats N]

Readers (one per process, so that one reader's memory and failures do not touch another's):

  pandas            pandas.read_csv(path, engine="c").to_numpy(dtype="float64"), as a user
                    calls it: the target's peer. pandas 3.1 reads a large local file in
                    parallel by default (threads: mode.max_threads, else min(CPUs, 6)).
  pandas-1thread    the same with pandas.set_option("mode.max_threads", 1): one thread, as
                    bpc --threads 1 (pandas 3.1 parses every float with one converter, so
                    float_precision no longer matters; it is deprecated)
  pyarrow           pyarrow.csv.read_csv with use_threads=False, columns into one float64
                    array (one thread, as bpc --threads 1)
  pyarrow-threads   the same with pyarrow's thread pool (its default: every CPU)
  loadtxt           numpy.loadtxt(path, delimiter=",", skiprows=1, dtype=float64); its
                    repeats stop early once another would take the total past ~60 s

Each load is timed from the call to the finished numpy array (file already in the page
cache: one untimed read of the file comes first); repeats default to BENCH_REPEATS (5). One
JSON line: throughput in MB/s (file bytes / 10^6 / median seconds), rows_per_second,
file_bytes, rows, median_seconds, repeats, version. A reader whose library is not installed
prints nothing (exit status 4), which the harness records as skipped.
"""

import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

READERS = ("pandas", "pandas-1thread", "pyarrow", "pyarrow-threads", "loadtxt")


def reader(name, path):
    """(peer name, version, note, load(): -> 2-D float64 numpy array, budget seconds)."""
    import numpy as np
    if name.startswith("pandas"):
        import pandas as pd
        version = f"pandas {pd.__version__}, numpy {np.__version__}"
        load = lambda: pd.read_csv(path, engine="c").to_numpy(dtype="float64")
        note = "read_csv(path, engine='c').to_numpy(dtype='float64')"
        if name == "pandas":
            try:  # pandas 3.1: the parse threads a large local file gets by default
                from pandas.io.parsers.readers import _default_n_workers
                note += f" (pandas' default: up to {_default_n_workers()} parse threads)"
            except ImportError:
                pass
            return "pandas read_csv (C engine)", version, note, load, None
        try:
            pd.set_option("mode.max_threads", 1)
        except (KeyError, ValueError, pd.errors.OptionError) as e:  # pandas before 3.1: one thread anyway
            common.log(f"csv_peer.py: no mode.max_threads option ({e}); pandas reads with one thread")
        return ("pandas read_csv (C engine, 1 thread)", version, note + ", mode.max_threads = 1", load, None)
    if name.startswith("pyarrow"):
        import pyarrow as pa
        import pyarrow.csv as pacsv
        threads = name == "pyarrow-threads"
        count = pa.cpu_count() if threads else 1

        def load():
            table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=threads))
            out = np.empty((table.num_rows, table.num_columns), dtype=np.float64)
            for j, column in enumerate(table.columns):
                out[:, j] = column.to_numpy()
            return out
        return (f"pyarrow.csv read_csv ({common.thread_note(count)})", f"pyarrow {pa.__version__}, numpy {np.__version__}",
                f"pyarrow.csv.read_csv(use_threads={threads}), columns into one float64 array", load, None)
    if name == "loadtxt":
        return ("numpy.loadtxt", f"numpy {np.__version__}", "np.loadtxt(path, delimiter=',', skiprows=1)",
                lambda: np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2), 60.0)
    raise ValueError(name)


def main():
    args = common.parse_args("CSV loading", default_repeats=int(os.environ.get("BENCH_REPEATS", "5")),
                             supported=("CSV",))
    if args.reader not in READERS:
        common.log(f"csv_peer.py: --reader must be one of {', '.join(READERS)}")
        sys.exit(2)
    threads = 1 if args.reader in ("pandas-1thread", "pyarrow", "loadtxt") else os.cpu_count() or 1
    common.set_threads(threads)
    path = common._path(args.generated, "csv-data.csv")
    try:
        peer, version, note, load, budget = reader(args.reader, path)
    except ImportError as e:
        common.log(f"csv_peer.py: {args.reader}: {e}")
        sys.exit(4)
    file_bytes = os.path.getsize(path)
    with open(path, "rb") as f:  # into the page cache, as for bpc's runs
        while f.read(1 << 24):
            pass
    shapes = []

    def once(i):
        gc.collect()
        with common.Timer() as t:
            array = load()
        shapes.append(array.shape)
        assert array.dtype.name == "float64", array.dtype
        del array
        return t.seconds, t.cpu_ratio, {}

    med, infos = common.run_repeats(peer, args.repeats, once, threads,
                                    None if args.repeats_given else budget)
    rows, cols = shapes[0]
    common.emit_raw({
        "workload": "CSV",
        "peer": peer,
        "throughput": file_bytes / 1e6 / med,
        "unit": "MB/s",
        "rows_per_second": rows / med,
        "median_seconds": med,
        "repeats": len(infos),
        "file_bytes": file_bytes,
        "rows": rows,
        "columns": cols,
        "final_loss": None,
        "accuracy": None,
        "version": version,
        "note": note,
    })


if __name__ == "__main__":
    main()
