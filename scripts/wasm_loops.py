#!/usr/bin/env python3
"""Instructions per element in the innermost loops of the wasm module's f32 rotation kernel
(the `Lanes` entry point's instantiation for f32 spans in place), the figure the wasm32
goal of the NEON/wasm kernel issue is stated in: every wasm instruction of a loop body
(locals, address arithmetic, SIMD) over the f32 elements its `v128.store`s write.

    python3 scripts/wasm_loops.py           (builds the simd128 module with v0 symbol names)
"""
import re, subprocess, sys, pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
WASM = ROOT / "target/wasm-names/wasm32-unknown-unknown/release/rope_simd_c.wasm"


def build():
    subprocess.run(
        ["cargo", "build", "-q", "--release", "-p", "rope-simd-capi", "--target", "wasm32-unknown-unknown",
         "--target-dir", "target/wasm-names"],
        cwd=ROOT, check=True,
        env={**__import__("os").environ,
             "RUSTFLAGS": "-C target-feature=+simd128 -C symbol-mangling-version=v0"},
    )


def functions(wat):
    """name -> list of instruction lines (wasm2wat's folded-free text)."""
    out, name, body = {}, None, []
    for line in wat.splitlines():
        m = re.match(r"^  \(func (\$\S+)", line)
        if m:
            if name:
                out[name] = body
            name, body = m.group(1), []
        elif name:
            body.append(line.strip())
    if name:
        out[name] = body
    return out


def loops(body):
    """Innermost loops: (instruction count, v128.store count, f32x4.mul count)."""
    found, stack = [], []
    for ins in body:
        op = ins.split()[0] if ins else ""
        if op in ("block", "loop", "if"):
            stack.append([op, 0, 0, 0, False])  # kind, count, stores, muls, has inner loop
            continue
        if op == "end" and stack:
            kind, n, st, mul, inner = stack.pop()
            if kind == "loop" and not inner:
                found.append((n, st, mul))
            if stack:
                stack[-1][1] += n + 1
                stack[-1][2] += st
                stack[-1][3] += mul
                stack[-1][4] = stack[-1][4] or inner or kind == "loop"
            continue
        if stack and op:
            stack[-1][1] += 1
            stack[-1][2] += op == "v128.store"
            stack[-1][3] += op == "f32x4.mul"
    return found


def main():
    if "--no-build" not in sys.argv:
        build()
    wat = subprocess.run(["wasm2wat", "--enable-all", str(WASM)], check=True, capture_output=True, text=True).stdout
    for name, body in functions(wat).items():
        if "lanes3run" not in name and "lanes::run" not in name:
            continue
        ls = [l for l in loops(body) if l[2] >= 4 and l[1] > 0]
        if not ls:
            continue
        print(name[:160])
        for n, st, mul in ls:
            print(f"  loop: {n} instructions, {st} v128.store ({4 * st} f32), {mul} f32x4.mul: "
                  f"{n / (4 * st):.2f} per element")


if __name__ == "__main__":
    main()
