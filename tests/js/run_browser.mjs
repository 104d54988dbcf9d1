// Runs tests/js/browser.html in headless Chromium: serves the repository over HTTP on
// localhost, opens the page, waits for the page to post its result, prints it and exits
// with 1 if a check failed (or nothing came back in time).
//   node tests/js/run_browser.mjs [--bench]       (after `bash js/build.sh`)
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { extname, join, normalize } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const types = { ".html": "text/html", ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm" };
const bench = process.argv.includes("--bench");
let resolveResult;
const result = new Promise((r) => { resolveResult = r; });

const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (req.method === "POST" && url.pathname === "/result") {
    let body = "";
    for await (const chunk of req) body += chunk;
    res.end("ok");
    resolveResult(JSON.parse(body));
    return;
  }
  const path = normalize(join(root, url.pathname));
  if (!path.startsWith(root) || !/^\/(js|tests\/js|target\/js|target\/wasm-scalar)\//.test(url.pathname)) {
    res.writeHead(404).end();
    return;
  }
  try {
    const body = await readFile(path);
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const scalar = "/target/wasm-scalar/wasm32-unknown-unknown/release/rope_simd_c.wasm";
const page = `http://127.0.0.1:${server.address().port}/tests/js/browser.html${bench ? `?bench=${scalar}` : ""}`;
const browser = process.env.CHROMIUM ?? "chromium";
const chromium = spawn(browser, [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  `--user-data-dir=/tmp/rope-simd-chromium-${process.pid}`, page,
], { stdio: ["ignore", "ignore", "pipe"] });
let stderr = "";
chromium.stderr.on("data", (d) => { stderr += d; });
const timeout = new Promise((r) => setTimeout(() => r(null), bench ? 600_000 : 120_000));
const got = await Promise.race([result, timeout]);
chromium.kill();
server.close();
if (!got) {
  console.log(`browser: no result from ${browser} in time\n${stderr.slice(-2000)}`);
  process.exit(1);
}
for (const f of got.failures) console.log("FAIL", f);
console.log(`browser (${got.userAgent.match(/Chrom\w*\/[\d.]+/)?.[0] ?? got.userAgent}, backend ${got.backend})`);
if (got.bench) console.log(JSON.stringify({ engine: got.userAgent.match(/Chrom\w*\/[\d.]+/)?.[0] ?? got.userAgent, ...got.bench }));
console.log(`browser: ${got.passed} passed, ${got.failed} failed`);
process.exit(got.failed ? 1 : 0);
