// Runs a wasm32-wasip1 test binary under Node.js's WASI (cargo's target runner).
// Usage: node .ci/wasi-run.mjs <file.wasm> [args...]
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import process from "node:process";

const [file, ...args] = process.argv.slice(2);
// The repository is visible at its own path (tests read fuzz/regressions/ there).
const cwd = process.cwd();
const wasi = new WASI({
  version: "preview1",
  args: [file, ...args],
  env: process.env,
  preopens: { [cwd]: cwd },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
