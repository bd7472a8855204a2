#!/usr/bin/env python3
"""Check the compiled kernels (Sources/BPCKernels) use the instructions their variant is for.

    check_kernel_isa.py [OBJECT]     # default: .build/release/BPCKernels.build/kernels.c.o

Disassembles the object with objdump and, per kernel, counts fused multiply-adds (vfmadd*),
512-bit (zmm) and 256-bit (ymm) registers and calls. Fails when an AVX2 or AVX-512 variant of
a multiply-add kernel has no vfmadd, when an AVX-512 variant touches no zmm register (except
binary64 tanh and exp, the C library's one value at a time), when the
portable variant uses any AVX register, or when any kernel calls fma/fmaf (what Swift's SIMD
multiply-adds compile to without a target CPU). x86-64 only.
"""

import collections
import os
import re
import subprocess
import sys

FMA_KERNELS = ("accumulate", "sparse_forward", "sparse_backward", "dot")


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, ".build/release/BPCKernels.build/kernels.c.o")
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-r", path], capture_output=True, text=True, check=True).stdout
    stats = collections.defaultdict(collections.Counter)
    function = None
    for line in text.splitlines():
        header = re.match(r"^[0-9a-f]+ <(\w+)>:$", line)
        if header:
            function = header.group(1)
            continue
        if function is None:
            continue
        s = stats[function]
        s["vfmadd"] += "vfmadd" in line or "vfnmadd" in line
        s["zmm"] += "zmm" in line
        s["ymm"] += "ymm" in line
        s["fma call"] += bool(re.search(r"R_X86_64_PLT32\s+fmaf?(-|$|\b)", line))
    problems = []
    for function, s in sorted(stats.items()):
        match = re.match(r"(\w+)_(f32|f64)_(portable|avx2|avx512)$", function)
        if not match:
            continue
        kernel, precision, variant = match.groups()
        print(f"{function:40} vfmadd {s['vfmadd']:4}  zmm {s['zmm']:4}  ymm {s['ymm']:4}  fma calls {s['fma call']}")
        if s["fma call"]:
            problems.append(f"{function} calls fma")
        if variant != "portable" and kernel in FMA_KERNELS and not s["vfmadd"]:
            problems.append(f"{function} has no vfmadd")
        # Binary64 tanh and exp are the C library's, one value at a time, in every variant.
        scalar = precision == "f64" and kernel in ("tanh_row", "exp_row")
        if variant == "avx512" and not s["zmm"] and not scalar:
            problems.append(f"{function} uses no zmm register")
        if variant == "portable" and (s["zmm"] or s["ymm"] or s["vfmadd"]):
            problems.append(f"{function} (portable) uses AVX")
    if not stats:
        problems.append(f"no functions in {path}")
    for problem in problems:
        print("check_kernel_isa:", problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
