#!/usr/bin/env python3
"""Make the CSV data sets that bpc's example specs train on.

How to run (from the repository root; needs scikit-learn, nothing is downloaded
at run time: load_iris and load_digits read data shipped inside the package):

    python3 -m venv /tmp/dsvenv && /tmp/dsvenv/bin/pip install scikit-learn
    /tmp/dsvenv/bin/python specs/data/make_datasets.py          # write the CSVs
    /tmp/dsvenv/bin/python specs/data/make_datasets.py --check  # also train a
        # quick LogisticRegression (C=10) on each train split and print test accuracy

The files are written next to this script (specs/data/). Output is
deterministic: the split and row order come from numpy's legacy
RandomState(SEED), whose stream is fixed across numpy versions, and a
stratified split implemented here (not scikit-learn's, whose internals may
change between versions).

Files (CSV, header on the first line naming the unit of each column, one row
per sample, no index column, no quoting, '\\n' line endings; each value is
written as a plain integer when integral, else as Python's shortest
round-tripping repr of the float):

  iris-train.csv, iris-test.csv
      The 150 iris samples split stratified 120 / 30 (40 / 10 per class).
      Columns x[0]..x[3]: sepal length, sepal width, petal length, petal width,
      standardised with the TRAINING split's mean and (population, ddof=0)
      standard deviation; the same transform is applied to the test split.
      Columns y[0]..y[2]: one-hot class (setosa, versicolor, virginica), 0 or 1.

  iris-labelled.csv, iris-labelled-test.csv
      The same 120 / 30 split and row order, raw (not standardised) and labelled,
      written as R's write.csv(df) writes a data frame df with the columns
      sepal_length, sepal_width, petal_length, petal_width (cm) and species (a
      factor): a quoted header whose first name is "" (the row names), each row's
      name quoted (the row's number in the original 150, from 1), numbers as R
      prints them (15 significant digits; 5 rather than 5.0) and the species
      quoted. specs/iris-labelled.yaml reads them with data.label and
      data.normalize, so bpc computes the standardisation itself.

  digits-train.csv, digits-test.csv
      scikit-learn's 8x8 handwritten digits (1797 samples) split stratified
      1437 / 360. Columns x[0]..x[63]: pixel value / 16 (row-major 8x8 image,
      values in [0, 1]). Columns y[0]..y[9]: one-hot digit 0..9, 0 or 1.

Rows of every file are in a shuffled (seeded) order, so classes are mixed.
"""

import argparse
import os
import sys

import numpy as np
from sklearn.datasets import load_digits, load_iris

SEED = 20240601
HERE = os.path.dirname(os.path.abspath(__file__))


def fmt(v):
    """Plain integer when integral, else the shortest repr that round-trips."""
    v = float(v)
    if v.is_integer():
        return str(int(v))
    return repr(v)


def stratified_split(y, n_test, rng):
    """Return (train_idx, test_idx), each shuffled, stratified by class.

    Per-class test counts are proportional to class size, rounded by the
    largest-remainder method so they add up to n_test exactly.
    """
    classes = np.unique(y)
    sizes = np.array([np.sum(y == c) for c in classes])
    exact = sizes * n_test / len(y)
    counts = np.floor(exact).astype(int)
    short = n_test - counts.sum()
    # Largest remainders first; ties broken by class order (stable sort).
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    train, test = [], []
    for c, k in zip(classes, counts):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        test.extend(idx[:k].tolist())
        train.extend(idx[k:].tolist())
    train = np.array(train)[rng.permutation(len(train))]
    test = np.array(test)[rng.permutation(len(test))]
    return train, test


def one_hot(y, n_classes):
    out = np.zeros((len(y), n_classes), dtype=np.int64)
    out[np.arange(len(y)), y] = 1
    return out


def write_csv(path, x, y):
    header = [f"x[{i}]" for i in range(x.shape[1])] + [f"y[{i}]" for i in range(y.shape[1])]
    with open(path, "w", newline="\n", encoding="ascii") as f:
        f.write(",".join(header) + "\n")
        for xr, yr in zip(x, y):
            f.write(",".join([fmt(v) for v in xr] + [fmt(v) for v in yr]) + "\n")


def write_r_csv(path, x, species, rows):
    """As R's write.csv(df): quoted header and strings, quoted row names, "\n" endings."""
    header = ["", "sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    with open(path, "w", newline="\n", encoding="ascii") as f:
        f.write(",".join(f'"{name}"' for name in header) + "\n")
        for row, xr, name in zip(rows, x, species):
            cells = [f'"{row + 1}"'] + [fmt(float(f"{v:.15g}")) for v in xr] + [f'"{name}"']
            f.write(",".join(cells) + "\n")


def make_iris(rng):
    data = load_iris()
    x, y = data.data.astype(np.float64), data.target
    tr, te = stratified_split(y, 30, rng)
    mean = x[tr].mean(axis=0)
    std = x[tr].std(axis=0)  # population std, as scikit-learn's StandardScaler
    xs = (x - mean) / std
    labelled = [(part, x[idx], data.target_names[y[idx]], idx) for part, idx in (("", tr), ("-test", te))]
    return (xs[tr], one_hot(y[tr], 3), y[tr]), (xs[te], one_hot(y[te], 3), y[te]), labelled


def make_digits(rng):
    data = load_digits()
    x, y = data.data.astype(np.float64) / 16.0, data.target
    tr, te = stratified_split(y, 360, rng)
    return (x[tr], one_hot(y[tr], 10), y[tr]), (x[te], one_hot(y[te], 10), y[te])


def check(name, train, test):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=10.0, max_iter=5000)
    clf.fit(train[0], train[2])
    acc = clf.score(test[0], test[2])
    print(f"{name}: LogisticRegression test accuracy {acc:.4f} "
          f"({round(acc * len(test[2]))}/{len(test[2])})")
    return acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="train a quick LogisticRegression per set and print test accuracy")
    ap.add_argument("--out", default=HERE, help="output directory (default: this script's)")
    args = ap.parse_args()

    rng = np.random.RandomState(SEED)
    *iris, labelled = make_iris(rng)
    sets = {"iris": tuple(iris), "digits": make_digits(rng)}
    for part, x, species, rows in labelled:
        path = os.path.join(args.out, f"iris-labelled{part}.csv")
        write_r_csv(path, x, species, rows)
        print(f"wrote {path}: {len(x)} rows")
    for name, (train, test) in sets.items():
        for part, (x, y1h, _) in (("train", train), ("test", test)):
            path = os.path.join(args.out, f"{name}-{part}.csv")
            write_csv(path, x, y1h)
            print(f"wrote {path}: {len(x)} rows")
    if args.check:
        ok = True
        for name, (train, test), need in (("iris", sets["iris"], 0.93),
                                          ("digits", sets["digits"], 0.95)):
            ok &= check(name, train, test) >= need
        if not ok:
            sys.exit("accuracy below expectation")


if __name__ == "__main__":
    main()
