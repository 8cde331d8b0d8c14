// The shared remote cache against a real S3-compatible server (s3rver, on 127.0.0.1 with its
// storage in a temp dir), with real guests: a run with an empty local cache builds and uploads;
// the next one, with another empty local cache, downloads everything (its boot warm from the
// downloaded template) and builds nothing; a
// corrupt object is caught and rebuilt; remote_write = false uploads nothing; a server that goes
// away mid-run costs a warning and the run still passes. Asserted on events, never on time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const main = resolve(import.meta.dir, "../src/main.ts");
const s3rverBin = resolve(import.meta.dir, "../../../node_modules/s3rver/bin/s3rver.js");
const tmp = mkdtempSync(join(tmpdir(), "provium-remote-"));
const BUCKET = "provium";
let port = 0;
let server: ReturnType<typeof Bun.spawn> | null = null;

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function startServer() {
  server = Bun.spawn(["node", s3rverBin, "-d", join(tmp, "s3"), "-a", "127.0.0.1", "-p", String(port), "--silent", "--configure-bucket", BUCKET], { stdout: "ignore", stderr: "pipe" });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://127.0.0.1:${port}/${BUCKET}`).then(() => true, () => false)) return;
    await Bun.sleep(100);
  }
  throw new Error("s3rver did not start");
}

function stopServer() {
  server?.kill("SIGKILL");
  server = null;
}

const creds = () => ({ S3_ACCESS_KEY_ID: "S3RVER", S3_SECRET_ACCESS_KEY: "S3RVER", S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_REGION: "us-east-1" });
const s3 = () => new Bun.S3Client({ bucket: BUCKET, accessKeyId: "S3RVER", secretAccessKey: "S3RVER", endpoint: `http://127.0.0.1:${port}` });

function project(name: string, cacheToml: string) {
  const dir = join(tmp, name);
  mkdirSync(join(dir, "t"), { recursive: true });
  writeFileSync(join(dir, "provium.toml"), `[provium]\nroots = ["t"]\n\n[cache]\n${cacheToml}\n`);
  writeFileSync(join(dir, "t", "base.fixture.lua"), 'local vm = provium:vm("base", "minimal"):boot()\nvm:run("echo from-the-fixture > /tmp/state"):assert_ok()\nreturn vm:snapshot()\n');
  writeFileSync(join(dir, "t", "b.test.lua"), 'local vm = provium:vm("plain", "minimal"):boot()\ntest("boots", function(t)\n  t:assert_eq(vm:run("echo hi").stdout, "hi\\n")\nend)\n');
  writeFileSync(join(dir, "t", "a.test.lua"), 'local vm = provium:vm_fixture("base")\ntest("resumes the fixture", function(t)\n  t:assert_eq(vm:run("cat /tmp/state").stdout, "from-the-fixture\\n")\nend)\n');
  return dir;
}

/** Runs provium in `dir` with its own local cache; `onEvent` sees each event as it comes. */
async function run(dir: string, cache: string, onEvent: (e: any) => void = () => {}) {
  const p = Bun.spawn(["bun", main, "--json"], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...creds(), PROVIUM_CACHE_DIR: join(tmp, cache) } });
  const events: any[] = [];
  let buf = "";
  const stderr = new Response(p.stderr).text();
  for await (const chunk of p.stdout) {
    buf += new TextDecoder().decode(chunk);
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const e = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      events.push(e);
      onEvent(e);
    }
  }
  const code = await p.exited;
  const messages = events.filter((e) => e.kind === "progress").map((e) => String(e.message));
  return { code, events, messages, stderr: await stderr, passed: events.filter((e) => e.kind === "test_passed").length };
}

const built = (messages: string[]) => messages.filter((m) => /^(building|downloading linux-image|extracting)/.test(m));
const downloaded = (messages: string[]) => messages.filter((m) => m.includes("from the remote cache"));

beforeAll(async () => {
  port = await freePort();
  await startServer();
});
afterAll(() => {
  stopServer();
  rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe("remote cache on S3", () => {
  const shared = project("shared", 'remote = "s3://provium/ci"');

  test("run A builds and uploads; run B with an empty local cache downloads and builds nothing", async () => {
    const a = await run(shared, "cache-a");
    expect(a.code).toBe(0);
    expect(a.passed).toBe(2);
    expect(built(a.messages).length).toBeGreaterThan(0);
    expect(a.events.some((e) => e.kind === "fixture_build_started")).toBe(true);
    expect(a.messages.filter((m) => m.startsWith("uploading ")).length).toBeGreaterThanOrEqual(5); // kernel, agent, image, agent disk, fixture, boot template
    expect(a.messages.some((m) => m.startsWith("uploading templates/"))).toBe(true);

    const b = await run(shared, "cache-b");
    expect(b.code).toBe(0);
    expect(b.passed).toBe(2);
    expect(built(b.messages)).toEqual([]);
    expect(b.events.some((e) => e.kind === "fixture_build_started")).toBe(false);
    expect(b.events.find((e) => e.kind === "fixture_cache_hit")).toMatchObject({ remote: true });
    expect(downloaded(b.messages).length).toBeGreaterThanOrEqual(5);
    expect(b.events.find((e) => e.kind === "vm_booted" && e.vm === "plain")).toMatchObject({ warm: true }); // from the downloaded boot template
  }, 900_000);

  test("a corrupt object is detected, built locally and replaced in the store", async () => {
    const bucket = s3();
    const agentKey = (await bucket.list({ prefix: "ci/keys/agents/" })).contents!.map((o) => o.key)[0]!;
    const rec = await bucket.file(agentKey).json();
    await bucket.write(`ci/blobs/${rec.blob}`, "not what was uploaded");
    const c = await run(shared, "cache-c");
    expect(c.code).toBe(0);
    expect(c.passed).toBe(2);
    expect(c.messages.some((m) => m.includes("is corrupt") && m.includes("agents/"))).toBe(true);
    expect(c.messages).toContain("building guest agent (bun build --compile)");
    const fixed = await bucket.file(agentKey).json();
    const blob = new Uint8Array(await bucket.file(`ci/blobs/${fixed.blob}`).arrayBuffer());
    expect(new Bun.CryptoHasher("sha256").update(blob).digest("hex")).toBe(fixed.blob);
  }, 900_000);

  test("remote_write = false downloads but uploads nothing", async () => {
    const ro = project("readonly", 'remote = "s3://provium/ci"\nremote_write = false');
    const bucket = s3();
    const fixtureKeys = (await bucket.list({ prefix: "ci/keys/fixtures/" })).contents!.map((o) => o.key);
    for (const k of fixtureKeys) await bucket.delete(k); // the fixture must be built here
    const before = (await bucket.list({ prefix: "ci/" })).contents!.length;
    const d = await run(ro, "cache-d");
    expect(d.code).toBe(0);
    expect(d.passed).toBe(2);
    expect(d.events.some((e) => e.kind === "fixture_build_started")).toBe(true);
    expect(downloaded(d.messages).length).toBeGreaterThan(0);
    expect(d.messages.filter((m) => m.startsWith("uploading "))).toEqual([]);
    expect((await bucket.list({ prefix: "ci/" })).contents!.length).toBe(before);
  }, 900_000);

  test("the server stopped mid-run costs a warning; the run passes", async () => {
    rmSync(join(tmp, "cache-d", "fixtures"), { recursive: true, force: true }); // built again, then uploaded: to a server that is gone
    const e = await run(shared, "cache-d", (ev) => ev.kind === "fixture_build_started" && stopServer());
    expect(e.code).toBe(0);
    expect(e.passed).toBe(2);
    expect(e.messages.some((m) => m.startsWith("warning: remote cache s3://provium/ci is unreachable"))).toBe(true);
    await startServer();
  }, 900_000);
});
