// The example suite with both caches cold (local and remote), then with a cold local cache and a
// warm remote (s3rver on 127.0.0.1): what a fresh CI runner gains from the shared cache.
// Usage: bun bench/remote-cache.ts
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const repo = join(import.meta.dir, "..");
const tmp = mkdtempSync(join(tmpdir(), "provium-m27-"));
const port = 45000 + Math.floor(Math.random() * 1000);
const s3 = Bun.spawn(["node", `${repo}/node_modules/s3rver/bin/s3rver.js`, "-d", join(tmp, "s3"), "-a", "127.0.0.1", "-p", String(port), "--silent", "--configure-bucket", "provium"], { stdout: "ignore", stderr: "ignore" });
await Bun.sleep(1500);
const proj = join(tmp, "proj");
mkdirSync(join(proj, "t"), { recursive: true });
writeFileSync(join(proj, "provium.toml"), '[provium]\nroots = ["t"]\n[cache]\nremote = "s3://provium/m"\n');
copyFileSync(`${repo}/examples/hello.test.lua`, join(proj, "t", "hello.test.lua"));
const env = { ...process.env, S3_ACCESS_KEY_ID: "S3RVER", S3_SECRET_ACCESS_KEY: "S3RVER", S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_REGION: "us-east-1" };
for (const name of ["both cold", "local cold, remote warm"]) {
  const t = performance.now();
  const p = Bun.spawn(["bun", `${repo}/apps/cli/src/main.ts`, "-q"], { cwd: proj, env: { ...env, PROVIUM_CACHE_DIR: join(tmp, name.replaceAll(" ", "-").replace(",", "")) }, stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  console.log(`${name}: ${((performance.now() - t) / 1000).toFixed(1)} s wall; ${out.trim().split("\n").at(-1)}`);
}
s3.kill();
rmSync(tmp, { recursive: true, force: true });
