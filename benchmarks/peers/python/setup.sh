#!/usr/bin/env bash
# Install the Python peers of the bpc benchmarks into a virtual environment.
#
#   bash benchmarks/peers/python/setup.sh benchmarks/.venv
#
# Creates the venv if needed (with $PYTHON, default python3 >= 3.11), then
# pip-installs the versions pinned in requirements.txt. torch is installed
# first as a CPU-only build: from the PyTorch CPU index if that host can be
# reached, else a torch==X+cpu wheel from pip's configured find-links (if any),
# else torch==X from PyPI (a CUDA build that pulls several GB of nvidia-*
# packages; the peers still only use the CPU). Idempotent: exits at once when
# every pin is already satisfied. Quiet; pip's cache is used.
set -euo pipefail

VENV=${1:?usage: setup.sh VENV_PATH}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REQ="$HERE/requirements.txt"
PY=${PYTHON:-python3}
TORCH_PIN=$(grep -iE '^torch==' "$REQ" | head -1 | cut -d= -f3)   # e.g. 2.13.0+cpu
TORCH_VERSION=${TORCH_PIN%%+*}                                      # e.g. 2.13.0
TORCH_INDEX=https://download.pytorch.org/whl/cpu

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
pip_q() { "$VPY" -m pip --disable-pip-version-check -q "$@"; }

# All pins satisfied? (torch: the public version must match; +cpu preferred)
satisfied() {
    "$VPY" - "$REQ" <<'PYEOF'
import sys, importlib.metadata as md
ok = True
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        ok = False
        continue
    if name.lower() == "torch":
        ok &= have.split("+")[0] == want.split("+")[0]
    else:
        ok &= have == want
sys.exit(0 if ok else 1)
PYEOF
}

if satisfied; then
    echo "python peers: $VENV up to date"
    exit 0
fi

torch_ok() {
    "$VPY" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('torch').split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null
}

if ! torch_ok; then
    echo "python peers: installing torch $TORCH_VERSION (CPU)"
    if pip_q install --retries 1 --timeout 20 --index-url "$TORCH_INDEX" "torch==$TORCH_VERSION" 2>/dev/null; then
        :
    elif pip_q install "torch==$TORCH_VERSION+cpu" 2>/dev/null; then
        :
    else
        echo "python peers: PyTorch CPU index and a local +cpu wheel unavailable; installing torch==$TORCH_VERSION from PyPI" >&2
        pip_q install "torch==$TORCH_VERSION"
    fi
fi

echo "python peers: installing pinned requirements"
grep -viE '^torch==' "$REQ" > "$VENV/.bpc-peers-requirements.txt"
pip_q install -r "$VENV/.bpc-peers-requirements.txt"

"$VPY" - <<'PYEOF'
import yaml, numpy, jax, torch, micrograd, pandas, pyarrow  # noqa: F401
assert yaml.__with_libyaml__, "PyYAML without libyaml (no CSafeLoader)"
print(f"python peers: torch {torch.__version__}, jax {jax.__version__}, numpy {numpy.__version__}, PyYAML {yaml.__version__}, "
      f"pandas {pandas.__version__}, pyarrow {pyarrow.__version__}")
PYEOF
