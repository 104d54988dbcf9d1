#!/usr/bin/env python3
"""The aarch64 cycle model (run by scripts/arm_cycles.sh, which builds the probe).

For each case, qemu-aarch64 runs `profile_step` one instruction per block with every
executed address logged; the instructions between `rope_probe_begin` and `rope_probe_end`
(the last decode step: Q 32 + K 8 heads, head_dim 128, cos/sin from a table) are the
step's dynamic trace, taken from llvm-objdump's disassembly of the same binary. llvm-mca
then runs that trace once, straight-line, on each CPU model: its total cycles over the
step's elements is the whole call's cycles per element (calls, branches and loop
bookkeeping included; caches assumed hit, branches predicted). A model, not a timing.

    python3 scripts/arm_cycles.py BINARY OUT.md
"""
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

ELEMENTS = (32 + 8) * 128
# (label, -mcpu, has FEAT_BF16)
CPUS = [
    ("Cortex-A55", "cortex-a55", False),
    ("Cortex-A72", "cortex-a72", False),
    ("Neoverse N1", "neoverse-n1", False),
    ("Neoverse V1", "neoverse-v1", True),
    ("Neoverse N2", "neoverse-n2", True),
]
# (row label, dtype, layout)
ROWS = [
    ("f32 half-split", "f32", "half-split"),
    ("f32 interleaved", "f32", "interleaved"),
    ("f16 half-split", "f16", "half-split"),
    ("f16 interleaved", "f16", "interleaved"),
    ("bf16 half-split", "bf16", "half-split"),
    ("bf16 interleaved", "bf16", "interleaved"),
]
MCA = os.environ.get("LLVM_MCA", "llvm-mca-19")
OBJDUMP = os.environ.get("LLVM_OBJDUMP", "llvm-objdump-19")


def disassembly(binary):
    """address -> instruction text that llvm-mca assembles (branch and address operands
    become a label: the trace already says where control went)."""
    out = subprocess.run(
        [OBJDUMP, "-d", "--no-show-raw-insn", binary], check=True, capture_output=True, text=True
    ).stdout
    insns = {}
    for line in out.splitlines():
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S.*)$", line)
        if not m:
            continue
        text = m.group(2).split("//")[0].strip()
        text = re.sub(r"\s*<[^>]*>", "", text)
        op = text.split()[0] if text else ""
        if op in ("b", "bl") or op.startswith("b.") or op in ("cbz", "cbnz", "tbz", "tbnz", "adr", "adrp"):
            text = re.sub(r"0x[0-9a-f]+$", ".Lt", text)
        insns[int(m.group(1), 16)] = text
    return insns


def symbol(binary, name):
    """(address, size) of a function."""
    out = subprocess.run(["nm", "-S", binary], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == name:
            return int(parts[0], 16), int(parts[1], 16)
    raise SystemExit(f"{binary}: no symbol {name}")


def trace(binary, args, cpu):
    """The addresses executed between the probe's markers."""
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        subprocess.run(
            ["qemu-aarch64", "-cpu", cpu, "-singlestep", "-d", "nochain,exec", "-D", log.name, binary]
            + args,
            check=True,
            capture_output=True,
        )
        pcs = []
        with open(log.name) as f:
            for line in f:
                m = re.search(r"\[[0-9a-f]+/([0-9a-f]+)/", line)
                if m:
                    pcs.append(int(m.group(1), 16))
    (begin, size), (end, _) = symbol(binary, "rope_probe_begin"), symbol(binary, "rope_probe_end")
    first = max(i for i, pc in enumerate(pcs) if pc == begin)
    last = next(i for i in range(first, len(pcs)) if pcs[i] == end)
    # Skip the begin marker's own body (up to and including its `ret`).
    start = first
    while begin <= pcs[start] < begin + size:
        start += 1
    return pcs[start:last]


def mca_cycles(lines, mcpu):
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write(".Lt:\n" + "\n".join(lines) + "\n")
        path = f.name
    try:
        out = subprocess.run(
            [MCA, "-mtriple=aarch64", f"-mcpu={mcpu}", "-mattr=+bf16", "-iterations=1", path],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(path)
    return int(re.search(r"Total Cycles:\s+(\d+)", out).group(1))


def main():
    binary, out_path = sys.argv[1], sys.argv[2]
    backends = sys.argv[3].split(",") if len(sys.argv) > 3 else ["neon", "neonbf16", "lanes"]
    if len(sys.argv) > 4:  # only these rows, e.g. "f32 half-split,bf16 half-split"
        keep = sys.argv[4].split(",")
        ROWS[:] = [r for r in ROWS if r[0] in keep]
    insns = disassembly(binary)
    # case: (kind, dtype, layout, backend) -> instruction lines
    cases = {}
    for _, dtype, layout in ROWS:
        cases[("memory", dtype, "half-split", "scalar")] = None
        cases[("naive", dtype, layout, "scalar")] = None
        for b in backends:
            cases[("rope", dtype, layout, b)] = None

    def run(case):
        kind, dtype, layout, backend = case
        pcs = trace(binary, [kind, dtype, "2", backend, layout], "max")
        return case, [insns[pc] for pc in pcs]

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for case, lines in pool.map(run, list(cases)):
            cases[case] = lines

    jobs = [(case, cpu) for case in cases for _, cpu, _ in CPUS]

    def model(job):
        case, cpu = job
        return job, mca_cycles(cases[job[0]], cpu)

    cycles = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for job, c in pool.map(model, jobs):
            cycles[job] = c

    version = subprocess.run([MCA, "--version"], capture_output=True, text=True).stdout
    version = re.search(r"LLVM version ([\d.]+)", version).group(1)
    cpe = lambda case, cpu: cycles[(case, cpu)] / ELEMENTS
    md = []
    md.append(
        f"Model estimate, not a measurement: llvm-mca {version} cycles per element of a whole "
        f"decode step (Q 32 + K 8 heads, head_dim 128, cos/sin from a table), its dynamic "
        f"instruction trace taken under qemu-aarch64 (`bash scripts/arm_cycles.sh`). "
        f"`neon` is the NEON backend (`neonbf16`, with `bfcvtn`, on the CPUs that have "
        f"FEAT_BF16: V1, N2), `lanes` the portable backend aarch64 ran before; `pass` an "
        f"in-place `x *= c` over the same bytes, `loop` the plain scalar loop a user writes, "
        f"compiled by LLVM (which vectorizes it)."
    )
    md.append("")
    header = "| kernel | " + " | ".join(label for label, _, _ in CPUS) + " |"
    md.append(header)
    md.append("|---" * (len(CPUS) + 1) + "|")
    for label, dtype, layout in ROWS:
        cells = []
        for _, cpu, bf16 in CPUS:
            ours = "neonbf16" if bf16 and dtype == "bf16" and "neonbf16" in backends else "neon"
            c = cpe(("rope", dtype, layout, ours), cpu)
            old = cpe(("rope", dtype, layout, "lanes"), cpu) if "lanes" in backends else None
            pas = cpe(("memory", dtype, "half-split", "scalar"), cpu)
            loop = cpe(("naive", dtype, layout, "scalar"), cpu)
            cell = f"{c:.2f} (pass {pas:.2f}, loop {loop:.2f}"
            if old is not None:
                cell += f", lanes {old:.2f}"
            cells.append(cell + ")")
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    md.append("")
    md.append("Ratios (ours / in-place pass; plain loop / ours):")
    md.append("")
    md.append(header)
    md.append("|---" * (len(CPUS) + 1) + "|")
    for label, dtype, layout in ROWS:
        cells = []
        for _, cpu, bf16 in CPUS:
            ours = "neonbf16" if bf16 and dtype == "bf16" and "neonbf16" in backends else "neon"
            c = cpe(("rope", dtype, layout, ours), cpu)
            pas = cpe(("memory", dtype, "half-split", "scalar"), cpu)
            loop = cpe(("naive", dtype, layout, "scalar"), cpu)
            cells.append(f"{c / pas:.2f}x pass, {loop / c:.2f}x faster than loop")
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    text = "\n".join(md) + "\n"
    with open(out_path, "w") as f:
        f.write(text)
    print(text)
    counts = {case: len(lines) for case, lines in cases.items()}
    for case, n in sorted(counts.items()):
        print(f"# {'/'.join(case)}: {n} instructions, {n / ELEMENTS:.2f} per element")


if __name__ == "__main__":
    main()
