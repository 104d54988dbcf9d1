#!/usr/bin/env python3
"""Code size by owner in a binary: `scripts/symbols.py FILE [N]` prints the N largest
rope-simd functions and the totals by module (nm -S), for the size work of scripts/sizes.sh."""
import collections, subprocess, sys

path = sys.argv[1]
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
out = subprocess.run(["nm", "-S", "--size-sort", "-C", path], capture_output=True, text=True).stdout
# One row per address: functions LLVM or the linker folded into one body (the same code
# under two names, e.g. an ISA's entry point identical to the scalar one) are one copy.
rows, seen = [], set()
for line in out.splitlines():
    parts = line.split(None, 3)
    if len(parts) == 4 and parts[2] in "tTwW" and parts[0] not in seen:
        seen.add(parts[0])
        rows.append((int(parts[1], 16), parts[3]))
groups = collections.Counter()
for size, name in rows:
    key = "other (std, core, C ABI glue)"
    if name.startswith("rope_simd::") or "<rope_simd::" in name:
        key = "::".join(name.replace("<", "").split("::")[:3])
    groups[key] += size
ours = [(s, n) for s, n in rows if "rope_simd" in n]
print(f"{path}: {sum(s for s, _ in rows)} bytes in functions, {sum(s for s, _ in ours)} in rope_simd")
for key, size in groups.most_common():
    print(f"{size:>9}  {key}")
print("largest:")
for size, name in sorted(ours)[-top:]:
    print(f"{size:>9}  {name[:140]}")
