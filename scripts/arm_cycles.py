#!/usr/bin/env python3
"""The aarch64 cycle model (run by scripts/arm_cycles.sh, which builds the probe).

For each case, qemu-aarch64 runs `profile_step` one instruction per block with every
executed address logged; the instructions between `rope_probe_begin` and `rope_probe_end`
(the last decode step: Q 32 + K 8 heads, head_dim 128, cos/sin from a table) are the
step's dynamic trace, taken from llvm-objdump's disassembly of the same binary. llvm-mca
then runs that trace once, straight-line, on each CPU model: its total cycles over the
step's elements is the whole call's cycles per element (calls, branches and loop
bookkeeping included; caches assumed hit, branches predicted). A model, not a timing.

    [HEAD_DIM=256] python3 scripts/arm_cycles.py BINARY OUT.md [BACKENDS] [ROWS]

Writes OUT.md and, run with every row and backend, the section of BENCHMARKS.md between
the `<!-- arm -->` markers (scripts/bench_report.py keeps it when it rewrites the rest).
"""
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

# The probe's head size: 128 (the goals' and BENCHMARKS.md's) unless HEAD_DIM is set.
HEAD_DIM = int(os.environ.get("HEAD_DIM", "128"))
ELEMENTS = (32 + 8) * HEAD_DIM
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
# The baseline: this model's whole-call cycles per element before the NEON backend, when
# aarch64 ran the portable lanes (`Lanes` now runs the NEON kernels there, so the model
# cannot rerun them; measured with this script at the same probe and LLVM).
BEFORE_ROWS = {
    "f32 half-split": [3.10, 1.83, 0.70, 0.34, 0.67],
    "f32 interleaved": [4.83, 2.27, 0.80, 0.40, 0.77],
    "f16 half-split": [3.72, 2.01, 1.43, 0.68, 1.36],
    "f16 interleaved": [5.94, 2.39, 1.61, 0.75, 1.46],
    "bf16 half-split": [5.00, 2.28, 1.68, 0.84, 1.64],
    "bf16 interleaved": [5.21, 2.55, 1.69, 0.84, 1.66],
}
BEFORE = {("bf16 half-split", "Neoverse N1"): BEFORE_ROWS["bf16 half-split"][2]}
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


def mca(lines, mcpu, iterations=1):
    """(total cycles, block reciprocal throughput) of `lines` run `iterations` times."""
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write(".Lt:\n" + "\n".join(lines) + "\n")
        path = f.name
    try:
        out = subprocess.run(
            [MCA, "-mtriple=aarch64", f"-mcpu={mcpu}", "-mattr=+bf16", f"-iterations={iterations}", path],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(path)
    total = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1))
    rthroughput = float(re.search(r"Block RThroughput:\s+([\d.]+)", out).group(1))
    return total, rthroughput


def hot_block(pcs, insns):
    """The instructions executed most often (the kernel's row loop) and how often."""
    counts = Counter(pcs)
    top = max(counts.values())
    return [insns[pc] for pc in sorted(counts) if counts[pc] == top], top


def goals(cycles, backends, pass_of):
    """The goals of the NEON backend's issue, each against the model, with the loop floor's
    best for the ratio goals (what the row loop's instructions allow at most)."""
    rows = {(d, l) for _, d, l in ROWS}
    if not {("f32", "half-split"), ("f32", "interleaved"), ("f16", "half-split"),
            ("bf16", "half-split")} <= rows:
        return []
    cpu = {label: mcpu for label, mcpu, _ in CPUS}
    get = lambda kind, d, l, b, c, what="call": cycles[((kind, d, l, b), cpu[c], what)]
    out = [
        "",
        "Goals (head_dim 128, decode step, whole call). `floor allows`: the same figure with the"
        " row loop at its resource bound and nothing outside it, the best these instructions"
        " can reach:",
        "",
        "| goal | CPU | model | floor allows | |",
        "|---|---|---:|---:|---|",
    ]
    for layout in ("half-split", "interleaved"):
        for c in ("Neoverse N1", "Neoverse V1"):
            v = get("rope", "f32", layout, "neon", c) / pass_of("f32", cpu[c])
            f = get("rope", "f32", layout, "neon", c, "floor") / pass_of("f32", cpu[c])
            out.append(f"| f32 {layout} <= 1.2x the pass | {c} | {v:.2f}x | {f:.2f}x | "
                       f"{'met' if v <= 1.2 else 'missed'} |")
        for c in ("Cortex-A55", "Cortex-A72", "Neoverse N1"):
            v = get("naive", "f32", layout, "scalar", c) / get("rope", "f32", layout, "neon", c)
            f = get("naive", "f32", layout, "scalar", c) / get("rope", "f32", layout, "neon", c, "floor")
            out.append(f"| f32 {layout} >= 1.5x faster than the plain loop | {c} | {v:.2f}x | "
                       f"{f:.2f}x | {'met' if v >= 1.5 else 'missed'} |")
    v = get("rope", "bf16", "half-split", "neon", "Neoverse N1")
    before = BEFORE[("bf16 half-split", "Neoverse N1")]
    f = get("rope", "bf16", "half-split", "neon", "Neoverse N1", "floor")
    out.append(f"| bf16 half-split >= 25% fewer cycles than before ({before}) | Neoverse N1 | "
               f"{100 * (1 - v / before):.0f}% | {100 * (1 - f / before):.0f}% | "
               f"{'met' if v <= 0.75 * before else 'missed'} |")
    if "neonbf16" in backends:
        v = get("rope", "bf16", "half-split", "neonbf16", "Neoverse V1")
        f = get("rope", "bf16", "half-split", "neonbf16", "Neoverse V1", "floor")
        out.append(f"| bf16 half-split <= 0.45 cycles/element with `bfcvtn` | Neoverse V1 | "
                   f"{v:.2f} | {f:.2f} | {'met' if v <= 0.45 else 'missed'} |")
    v = get("rope", "f16", "half-split", "neon", "Neoverse N1") / pass_of("f16", cpu["Neoverse N1"])
    f = get("rope", "f16", "half-split", "neon", "Neoverse N1", "floor") / pass_of("f16", cpu["Neoverse N1"])
    out.append(f"| f16 half-split <= 1.15x its own pass | Neoverse N1 | {v:.2f}x | {f:.2f}x | "
               f"{'met' if v <= 1.15 else 'missed'} |")
    return out


def main():
    binary, out_path = sys.argv[1], sys.argv[2]
    backends = sys.argv[3].split(",") if len(sys.argv) > 3 else ["neon", "neonbf16"]
    if len(sys.argv) > 4:  # only these rows, e.g. "f32 half-split,bf16 half-split"
        keep = sys.argv[4].split(",")
        ROWS[:] = [r for r in ROWS if r[0] in keep]
    insns = disassembly(binary)
    # case: (kind, dtype, layout, backend) -> executed addresses
    cases = {}
    for _, dtype, layout in ROWS:
        cases[("memory", dtype, "half-split", "scalar")] = None
        if dtype == "f16":
            cases[("memory16", dtype, "half-split", "scalar")] = None
        cases[("naive", dtype, layout, "scalar")] = None
        for b in backends:
            cases[("rope", dtype, layout, b)] = None

    def run(case):
        kind, dtype, layout, backend = case
        return case, trace(binary, [kind, dtype, "2", backend, layout, str(HEAD_DIM)], "max")

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for case, pcs in pool.map(run, list(cases)):
            cases[case] = pcs

    # Whole call: the trace once. Floor: the row loop's resource bound (its reciprocal
    # throughput times its executions), what no scheduling of those instructions beats.
    jobs = [(case, cpu, "call") for case in cases for _, cpu, _ in CPUS]
    jobs += [(case, cpu, "floor") for case in cases if case[0] == "rope" for _, cpu, _ in CPUS]

    def model(job):
        case, cpu, what = job
        if what == "call":
            return job, mca([insns[pc] for pc in cases[case]], cpu)[0]
        block, times = hot_block(cases[case], insns)
        return job, mca(block, cpu, 100)[1] * times

    cycles = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for job, c in pool.map(model, jobs):
            cycles[job] = c / ELEMENTS

    version = subprocess.run([MCA, "--version"], capture_output=True, text=True).stdout
    version = re.search(r"LLVM version ([\d.]+)", version).group(1)

    def ours(dtype, bf16):
        return "neonbf16" if bf16 and dtype == "bf16" and "neonbf16" in backends else "neon"

    def pass_of(dtype, cpu):
        kind = "memory16" if dtype == "f16" else "memory"
        return cycles[((kind, dtype, "half-split", "scalar"), cpu, "call")]

    md = [
        f"Model estimate, not a measurement: llvm-mca {version}'s cycles per element of a "
        f"whole decode step (Q 32 + K 8 heads, head_dim {HEAD_DIM}, cos/sin from a table; its "
        f"dynamic instruction trace taken under qemu-aarch64 and run straight through: "
        f"caches hit, branches predicted). `bash scripts/arm_cycles.sh` regenerates it.",
        "",
        "- `neon`: the NEON backend (on V1 and N2, which have FEAT_BF16, bf16 rows are "
        "`neonbf16`'s `bfcvtn`); `floor`: its row loop's resource bound (llvm-mca's block "
        "reciprocal throughput), which no scheduling of those instructions beats;",
        "- `before`: the portable lanes, what aarch64 ran before the NEON backend (recorded: "
        "`Lanes` runs the NEON kernels there now);",
        "- `loop`: the plain scalar loop a user writes (LLVM vectorizes it); `pass`: an "
        "in-place `x *= c` over the same bytes (f16 rows: over as many f16, widened and "
        "rounded back).",
        "",
        "| kernel | " + " | ".join(label for label, _, _ in CPUS) + " |",
        "|---" * (len(CPUS) + 1) + "|",
    ]
    for label, dtype, layout in ROWS:
        whats = ["neon", "floor", "before", "loop", "pass"]
        if HEAD_DIM != 128:
            whats.remove("before")  # recorded at head_dim 128 only
        for what in whats:
            cells = []
            for _, cpu, bf16 in CPUS:
                if what == "neon":
                    v = cycles[(("rope", dtype, layout, ours(dtype, bf16)), cpu, "call")]
                elif what == "floor":
                    v = cycles[(("rope", dtype, layout, ours(dtype, bf16)), cpu, "floor")]
                elif what == "before":
                    v = BEFORE_ROWS[label][[c for _, c, _ in CPUS].index(cpu)]
                elif what == "loop":
                    v = cycles[(("naive", dtype, layout, "scalar"), cpu, "call")]
                else:
                    v = pass_of(dtype, cpu)
                cells.append(f"{v:.2f}")
            if cells:
                md.append(f"| {label}: {what} | " + " | ".join(cells) + " |")
    md += [
        "",
        "Ratios: `neon` over the in-place pass (lower is better), and the plain loop over `neon`"
        " (how many times faster):",
        "",
        "| kernel | " + " | ".join(label for label, _, _ in CPUS) + " |",
        "|---" * (len(CPUS) + 1) + "|",
    ]
    for label, dtype, layout in ROWS:
        cells = []
        for _, cpu, bf16 in CPUS:
            c = cycles[(("rope", dtype, layout, ours(dtype, bf16)), cpu, "call")]
            loop = cycles[(("naive", dtype, layout, "scalar"), cpu, "call")]
            cells.append(f"{c / pass_of(dtype, cpu):.2f}x pass, loop {loop / c:.2f}x")
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    if HEAD_DIM == 128:
        md += goals(cycles, backends, pass_of)
    text = "\n".join(md) + "\n"
    with open(out_path, "w") as f:
        f.write(text)
    print(text)
    if len(sys.argv) <= 4 and "neonbf16" in backends and HEAD_DIM == 128:
        section = (
            "<!-- arm -->\n## aarch64: a cycle model (`bash scripts/arm_cycles.sh`)\n\n"
            + text
            + "<!-- /arm -->"
        )
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "BENCHMARKS.md")
        doc = open(path).read()
        if "<!-- arm -->" in doc:
            doc = re.sub(r"<!-- arm -->.*<!-- /arm -->", lambda _: section, doc, flags=re.S)
        else:
            doc = doc.rstrip("\n") + "\n\n" + section + "\n"
        open(path, "w").write(doc)
    for case, pcs in sorted(cases.items()):
        print(f"# {'/'.join(case)}: {len(pcs)} instructions, {len(pcs) / ELEMENTS:.2f} per element")


if __name__ == "__main__":
    main()
