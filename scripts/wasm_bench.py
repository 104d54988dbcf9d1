#!/usr/bin/env python3
"""The WebAssembly speed table of BENCHMARKS.md: runs tests/js/bench.mjs in Node.js and in
headless Chromium (the simd128 and the scalar module, a plain JavaScript loop, and an
in-place multiply pass in the same module) and writes the section between the
`<!-- wasm -->` markers (scripts/bench_report.py keeps it when it rewrites the rest).
    python3 scripts/wasm_bench.py
"""
import json, pathlib, re, subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCALAR = "target/wasm-scalar/wasm32-unknown-unknown/release/rope_simd_c.wasm"


def run(cmd):
    return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def section(results):
    out = [
        "<!-- wasm -->",
        "## WebAssembly (`python3 scripts/wasm_bench.py`)",
        "",
        "32 heads x 128, half-split, through the JavaScript module (`js/rope-simd.mjs`) on buffers",
        "in the module's memory; plain JS is a loop over a `Float32Array` with a precomputed",
        "cos/sin table (f16: `Uint16Array`, converted by lookup tables); the pass is an in-place",
        "multiply over the same buffer in the same module (the memory roof), its export called",
        "directly. Medians, microseconds; ratios against plain JS in the same engine and run.",
        "",
    ]
    goals = []
    for r in results:
        s, c, js = r["simd128"], r["scalar"], r["js"]
        d, p, cd, cp = s["decode"], s["prefill512"], c["decode"], c["prefill512"]
        jd, jp = js["decode"], js["prefill512"]
        out += [
            f"**{r['engine']}**",
            "",
            "| | simd128 | scalar module | plain JS | simd128 vs JS |",
            "|---|---:|---:|---:|---:|",
            f"| decode, on the fly | {d['fly']:.2f} | {cd['fly']:.2f} | | |",
            f"| decode, table | {d['table']:.2f} | {cd['table']:.2f} | {jd['f32']:.2f} | {jd['f32'] / d['table']:.1f}x |",
            f"| decode, f16, table | {d['f16']:.2f} | {cd['f16']:.2f} | {jd['f16']:.2f} | {jd['f16'] / d['f16']:.1f}x |",
            f"| decode, in-place multiply pass | {d['pass']:.2f} | {cd['pass']:.2f} | | |",
            f"| prefill 512, on the fly | {p['fly']:.0f} | {cp['fly']:.0f} | | |",
            f"| prefill 512, table | {p['table']:.0f} | {cp['table']:.0f} | {jp['f32']:.0f} | {jp['f32'] / p['table']:.1f}x |",
            f"| prefill 512, f16, table | {p['f16']:.0f} | {cp['f16']:.0f} | {jp['f16']:.0f} | {jp['f16'] / p['f16']:.1f}x |",
            f"| prefill 512, table, as 16 tokens x 1024 heads | {p['wide']:.0f} | {cp['wide']:.0f} | | |",
            f"| prefill 512, in-place multiply pass | {p['pass']:.0f} | {cp['pass']:.0f} | | |",
            "",
            f"Prefill (table) bandwidth, read and written: {p['gbps']:.1f} GB/s against the pass's "
            f"{p['passGbps']:.1f} GB/s ({p['gbps'] / p['passGbps']:.2f}x). The same values as 16 tokens "
            f"of 1024 heads take {p['wide']:.0f} us: the rest, {p['table'] - p['wide']:.0f} us, is the "
            f"cost of 496 more tokens (the driver and the kernel's entry, once a token). "
            f"Where the goals below would put the module: decode with a table at 12x plain JS "
            f"{jd['f32'] / 12:.2f} us, against this module's multiply pass over the same buffer "
            f"{d['pass']:.2f} us; f16 prefill at 30x {jp['f16'] / 30:.0f} us, against the f32 multiply "
            f"pass over as many values {p['pass']:.0f} us (one multiply a value, no conversion).",
            "",
        ]
        goals.append((r["engine"], jp["f32"] / p["table"], p["gbps"] / p["passGbps"],
                      jd["f32"] / d["table"], jp["f16"] / p["f16"]))
    out += [
        "Goals (f32 prefill >= 12x plain JS and >= 0.8x the pass's bandwidth; decode with a table",
        ">= 12x plain JS; f16 prefill >= 30x plain JS):",
        "",
        "| engine | prefill vs JS | vs pass | decode vs JS | f16 prefill vs JS |",
        "|---|---:|---:|---:|---:|",
    ]
    mark = lambda v, g: f"{v:.2f}x {'met' if v >= g else 'missed'}"
    for e, a, b, c, f in goals:
        out.append(f"| {e} | {mark(a, 12)} | {mark(b, 0.8)} | {mark(c, 12)} | {mark(f, 30)} |")
    out += ["", "<!-- /wasm -->"]
    return "\n".join(out)


def main():
    run(["bash", "js/build.sh"])
    run(["cargo", "build", "-q", "--release", "-p", "rope-simd-capi", "--target", "wasm32-unknown-unknown",
         "--target-dir", "target/wasm-scalar"])
    node = json.loads(run(["node", "tests/js/run_bench.mjs", "target/js/rope_simd.wasm", SCALAR]).strip().splitlines()[-1])
    browser_out = run(["node", "tests/js/run_browser.mjs", "--bench"])
    chromium = json.loads(next(l for l in browser_out.splitlines() if l.startswith("{")))
    text = section([node, chromium])
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text()
    if "<!-- wasm -->" in doc:
        doc = re.sub(r"<!-- wasm -->.*<!-- /wasm -->", lambda _: text, doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(doc)
    print(text)


if __name__ == "__main__":
    main()
