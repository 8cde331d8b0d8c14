// Warm boots end to end, through the CLI and the real cache: a shape's first boot saves its boot
// template and later runs restore it; a profile change, an aged template, a truncated or corrupt
// one and Ctrl-C during a save each do what docs/snapshots-and-fixtures.md ("Warm boots") says.
// Each test boots a profile whose command line carries a mark of its own, so its template is
// its own (other files of the machine boot other shapes), and removes it at the end.
import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, openSync, writeSync, closeSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cacheRoot } from "@provium/vmm";
import { FixtureCache } from "@provium/fixture-cache";

const main = resolve(import.meta.dir, "../src/main.ts");
const dir = mkdtempSync(join(tmpdir(), "provium-warm-"));
const cache = new FixtureCache(join(cacheRoot(), "fixtures"));
const run = `${process.pid}x${Date.now()}`;
const marks: string[] = [];

afterAll(() => {
  for (const e of cache.list("template")) if (marks.some((m) => JSON.stringify(e.meta).includes(m))) cache.remove(e.key);
  cache.close();
  rmSync(dir, { recursive: true, force: true });
});

// A profile `warmtest` whose command line carries `mark`, and a file that boots it and checks
// its clock against the host's.
function project(mark: string) {
  marks.push(mark);
  writeFileSync(join(dir, "provium.toml"), `[profiles.warmtest]\ncmdline = "init_on_free=1 provium.warmtest=${mark}"\n`);
  writeFileSync(
    join(dir, "boot.test.lua"),
    `local vm = provium:vm("v", "warmtest"):boot()
test("boots", function(t)
  print("CMDLINE " .. vm:read_file("/proc/cmdline"))
  local guest, host = vm:clock():get(), os.time()
  t:assert(math.abs(guest - host) <= 2, ("guest clock %.3f, host %d"):format(guest, host))
end)
`,
  );
}

function start(env: Record<string, string> = {}) {
  return Bun.spawn(["bun", main, "--json", "boot.test.lua"], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
}

async function provium(env: Record<string, string> = {}) {
  const p = start(env);
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  const events = stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const booted = events.find((e) => e.kind === "vm_booted");
  const warnings = events.filter((e) => e.kind === "progress" && String(e.message).startsWith("warning:")).map((e) => String(e.message));
  const cmdline = String(events.find((e) => e.kind === "log")?.message ?? "");
  return { code, events, booted, warnings, cmdline, why: stdout.slice(-3000) + stderr.slice(-2000) };
}

const entryOf = (short: string) => cache.list("template").find((e) => e.key.startsWith(short));

test("a shape's first boot saves its template, the next run restores it, and after a profile change it boots cold again", async () => {
  project(`a${run}`);
  const first = await provium();
  expect(first.code, first.why).toBe(0);
  expect(first.booted).toMatchObject({ vm: "v", profile: "warmtest", warm: false, cold_reason: "no template yet" });
  const key = first.booted.template as string;
  expect(entryOf(key)).toMatchObject({ kind: "template", name: "warmtest 512M 1cpu" });

  const second = await provium();
  expect(second.code, second.why).toBe(0);
  expect(second.booted).toMatchObject({ warm: true, template: key });
  expect(second.cmdline).toContain(`provium.warmtest=a${run}`);

  // `provium fixture list` shows it with its size and last use.
  const list = execFileSync("bun", [main, "fixture", "list"], { cwd: dir }).toString();
  expect(list).toMatch(new RegExp(`template warmtest 512M 1cpu  ${key}  [\\d.]+ MB  last used `));

  project(`b${run}`); // the profile's command line changes
  const changed = await provium();
  expect(changed.code, changed.why).toBe(0);
  expect(changed.booted).toMatchObject({ warm: false, cold_reason: "no template yet" });
  expect(changed.booted.template).not.toBe(key);
  expect(changed.cmdline).toContain(`provium.warmtest=b${run}`);

  // --cold-boot: the template is there, but not used.
  expect((await provium()).booted).toMatchObject({ warm: true, template: changed.booted.template });
  const p = Bun.spawn(["bun", main, "--json", "--cold-boot", "boot.test.lua"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const events = (await new Response(p.stdout).text()).trim().split("\n").map((l) => JSON.parse(l));
  expect(await p.exited).toBe(0);
  expect(events.find((e) => e.kind === "vm_booted")).toMatchObject({ warm: false, cold_reason: "--cold-boot" });
}, 600_000);

test("a template saved days ago: the clone's wall clock is the host's", async () => {
  project(`c${run}`);
  const aged = await provium({ PROVIUM_TEST_HOOKS: "1", PROVIUM_TEST_AGE_TEMPLATE_S: String(3 * 86400) });
  expect(aged.code, aged.why).toBe(0);
  expect(aged.booted.warm).toBe(false);
  const clone = await provium();
  expect(clone.code, clone.why).toBe(0); // the test file checks the clock within 2 s
  expect(clone.booted).toMatchObject({ warm: true, template: aged.booted.template });
}, 600_000);

test("a truncated or corrupt template is rebuilt with a warning, and the test passes", async () => {
  project(`d${run}`);
  const made = await provium();
  expect(made.code, made.why).toBe(0);
  const key = made.booted.template as string;
  const memory = join(entryOf(key)!.dir, "memory");

  truncateSync(memory, Math.floor(statSync(memory).size / 2));
  const truncated = await provium();
  expect(truncated.code, truncated.why).toBe(0);
  expect(truncated.booted).toMatchObject({ warm: false, cold_reason: "no template yet", template: key });
  expect(truncated.warnings.join("\n")).toContain(`warning: boot template ${key} (profile warmtest) was changed after it was saved (its file memory is`);
  expect(existsSync(memory)).toBe(true); // saved anew
  expect((await provium()).booted).toMatchObject({ warm: true, template: key });

  // Garbage over the stream's first 64 KiB, with the file's size and time as saved: QEMU refuses it.
  const st = statSync(memory, { bigint: true });
  const fd = openSync(memory, "r+");
  writeSync(fd, new Uint8Array(65536).fill(0xa5), 0, 65536, 0);
  closeSync(fd);
  execFileSync("touch", ["-m", "-d", `@${st.mtimeNs / 1_000_000_000n}.${String(st.mtimeNs % 1_000_000_000n).padStart(9, "0")}`, memory]);
  const corrupt = await provium();
  expect(corrupt.code, corrupt.why).toBe(0);
  expect(corrupt.booted).toMatchObject({ warm: false, cold_reason: "no template yet", template: key });
  expect(corrupt.warnings.join("\n")).toMatch(new RegExp(`warning: boot template ${key} \\(profile warmtest\\) did not load \\(restore failed: the snapshot does not load`));
  expect((await provium()).booted).toMatchObject({ warm: true, template: key });
}, 600_000);

test("Ctrl-C during a template save leaves no template, no staging dir, no lock and no memory file", async () => {
  const mark = `e${run}`;
  project(mark);
  const p = start();
  const entries = join(cache.root, "entries");
  // The save writes the devices' stream to <staging>/.memory.partial (renamed once whole), then
  // copies the guest's memory to <staging>/ram; the staging dir is renamed into place last.
  const saving = () =>
    readdirSync(entries)
      .filter((d) => d.startsWith(`.staging-${p.pid}-`))
      .some((d) => existsSync(join(entries, d, ".memory.partial")) || existsSync(join(entries, d, "ram")));
  const deadline = Date.now() + 300_000;
  while (!saving() && Date.now() < deadline && p.exitCode === null) await Bun.sleep(5);
  expect(saving()).toBe(true);
  p.kill("SIGINT");
  expect(await p.exited).toBe(130);
  expect(readdirSync(entries).filter((d) => d.startsWith(`.staging-${p.pid}-`))).toEqual([]);
  expect(cache.list("template").filter((e) => JSON.stringify(e.meta).includes(mark))).toEqual([]);
  expect(cache.db.query("SELECT * FROM locks WHERE owner LIKE ?").all(`${p.pid}-%`)).toEqual([]);
  // nor the maker's memory file (its QEMU's, under /dev/shm)
  expect(readdirSync("/dev/shm").filter((d) => d.startsWith(`provium-ram-p${p.pid}-`))).toEqual([]);
}, 600_000);
