// The wasm speed table in Node: node tests/js/run_bench.mjs <simd128.wasm> <scalar.wasm>
import { loadRopeSimd } from "../../js/rope-simd.mjs";
import { benchmark } from "./bench.mjs";

const [simd, scalar] = process.argv.slice(2);
const result = await benchmark(await loadRopeSimd(simd), scalar);
console.log(JSON.stringify({ engine: `node ${process.version}`, ...result }));
