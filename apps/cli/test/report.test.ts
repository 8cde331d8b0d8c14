// The HTML report end to end, on real guests: a suite with a passing, a failing and two
// skipped tests, a file whose top level fails and a guest whose kernel panics runs with
// --html and --save-events. The failure's console excerpt holds the panic line; the saved events
// render the same page; headless Chromium (Debian's, driven by puppeteer-core) opens it from
// file://, filters, clicks the failed tests and finds their error with file:line, timeline and
// console. A screenshot is saved beside the report (and as docs/report.png with
// PROVIUM_UPDATE_SCREENSHOT=1).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

const root = resolve(import.meta.dir, "../../..");
const main = resolve(import.meta.dir, "../src/main.ts");
const suite = "apps/cli/test/fixtures/report";
const CHROMIUM = "/usr/bin/chromium";

let dir: string;
let run: { code: number; stdout: string; stderr: string };
let events: any[];
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const fetched: string[] = [];

async function provium(args: string[]) {
  const p = Bun.spawn(["bun", main, ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr };
}

// The detail pane's text, section by section, once a test is clicked.
async function open(name: string) {
  await page.click(`xpath/.//a[contains(@class, "test")][.//span[@class="name" and text()=${JSON.stringify(name)}]]`);
  await page.waitForFunction((n) => (globalThis as any).document.querySelector("#detail h2")?.textContent?.includes(n), {}, name);
  const text = (sel: string) => page.$eval(sel, (e) => e.textContent ?? "").catch(() => "");
  return { error: await text("#detail .error"), timeline: await text("#detail section.timeline"), console: await text("#detail .console"), attachments: await text("#detail .attachments") };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "provium-report-"));
  run = await provium([suite, "--html", join(dir, "html"), "--save-events", join(dir, "events.jsonl"), "-j", "2"]);
  events = readFileSync(join(dir, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  page = await browser.newPage();
  page.on("pageerror", (e) => pageErrors.push((e as Error).message));
  page.on("request", (r) => fetched.push(r.url()));
  await page.setViewport({ width: 1400, height: 1000 });
  await page.goto(`file://${join(dir, "html", "index.html")}`);
}, 900_000);

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the HTML report", () => {
  test("the run: 2 passed, 3 failed, 2 skipped, and where the report is", () => {
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^2 passed, 3 failed, 2 skipped/m);
    expect(run.stdout).toContain(`HTML report: ${join(dir, "html", "index.html")}`);
  });

  test("a kernel panic's line is in the failure's console excerpt", () => {
    const failed = events.find((e) => e.kind === "test_failed" && e.test === "a kernel panic is in the excerpt");
    const tail = failed.consoles.find((c: any) => c.vm === "doomed").tail;
    expect(tail).toContain("Kernel panic - not syncing: sysrq triggered crash");
    expect(tail).not.toContain("SeaBIOS"); // the firmware's lines are left out
    expect(tail.split("\n").length).toBeLessThanOrEqual(40);
  });

  test("a kernel warning reaches the failure's console excerpt", () => {
    const failed = events.find((e) => e.kind === "test_failed" && e.test === "kernel release is what we expect");
    expect(failed.consoles).toEqual([{ vm: "web", tail: expect.stringContaining("provium-report: a kernel warning") }]);
  });

  test("the failed test's event carries its timeline", () => {
    const failed = events.find((e) => e.kind === "test_failed" && e.test === "kernel release is what we expect");
    expect(failed.timeline.map((o: any) => o.op)).toEqual(["run", "write_file", "run", "read_file", "read_file"]);
    const run = failed.timeline[2];
    expect(run).toMatchObject({ vm: "web", what: "run /bin/sh -c uname -r", ok: true });
    expect(run.out).toContain("stdout: 6.");
    expect(run.ms).toBeGreaterThan(0);
    // The file's top level: the boot
    const done = events.find((e) => e.kind === "file_completed" && e.file.endsWith("a_mixed.test.lua"));
    expect(done.timeline[0]).toMatchObject({ op: "boot", vm: "web", ok: true });
  });

  test("saved events render the same page", async () => {
    const r = await provium(["report", "--html", join(dir, "replay"), join(dir, "events.jsonl")]);
    expect(r.code).toBe(1); // the replayed run had failures: its exit says so, whatever the reporter
    expect(readFileSync(join(dir, "replay", "index.html"), "utf8")).toBe(readFileSync(join(dir, "html", "index.html"), "utf8"));
  });

  test("the page opens from file:// without fetching anything, and sums up the run", async () => {
    expect(fetched.filter((u) => !u.startsWith("file://"))).toEqual([]);
    expect(await page.$eval("#summary", (e) => e.textContent)).toContain("2 passed3 failed2 skipped");
    expect(await page.$$eval("#tests .test", (as) => as.length)).toBe(7);
  });

  test("filters by status, file and tag", async () => {
    await page.click('button[data-status="failed"]');
    expect(await page.$$eval("#tests .test", (as) => as.map((a) => a.getAttribute("data-status")))).toEqual(["failed", "failed", "failed"]);
    await page.click('button[data-status="all"]');
    await page.select("#tag-filter", "kernel");
    expect(await page.$$eval("#tests .test .name", (as) => as.map((a) => a.textContent))).toEqual(["kernel release is what we expect"]);
    await page.select("#tag-filter", "");
    await page.select("#file-filter", `${suite}/c_panic.test.lua`);
    expect(await page.$$eval("#tests .test .name", (as) => as.map((a) => a.textContent))).toEqual(["a kernel panic is in the excerpt"]);
    await page.select("#file-filter", "");
  });

  test("a failed test shows its error with file:line, its timeline, console, log and attachments", async () => {
    const d = await open("kernel release is what we expect");
    expect(d.error).toContain(`${suite}/a_mixed.test.lua:17: uname -r: expected "2.6.32\\n", got "6.`);
    expect(await page.$$eval("#detail .error .loc", (ls) => ls.map((l) => l.textContent))).toContain(`${suite}/a_mixed.test.lua:17`);
    expect(d.timeline).toContain("run /bin/sh -c uname -r");
    expect(d.timeline).toContain("write_file /tmp/expected");
    expect(await page.$$eval("#detail section.timeline tbody tr", (rs) => rs.length)).toBe(5);
    expect(d.console).toContain("vm web");
    expect(d.console).toContain("provium-report: a kernel warning");
    expect(await page.$eval("#detail .logs", (e) => e.textContent)).toContain("guest kernel 6.");
    expect(d.attachments).toContain("expected.txt");
    expect(d.attachments).toContain("notes.txt");
    const hrefs = await page.$$eval("#detail .attachments a", (as) => as.map((a) => a.getAttribute("href")!));
    expect(readFileSync(join(dir, "html", hrefs[1]!), "utf8")).toBe("a host file attached by name\n");
    await page.screenshot({ path: join(dir, "report.png") });
    if (process.env.PROVIUM_UPDATE_SCREENSHOT === "1") copyFileSync(join(dir, "report.png"), join(root, "docs", "report.png"));
    expect(existsSync(join(dir, "report.png"))).toBe(true);
  });

  test("the panicked guest's failure shows the panic in its console", async () => {
    const d = await open("a kernel panic is in the excerpt");
    expect(d.error).toContain(`${suite}/c_panic.test.lua:4:`);
    expect(d.error).toContain("the guest kernel panicked: sysrq triggered crash");
    expect(d.console).toContain("Kernel panic - not syncing: sysrq triggered crash");
    expect(await page.$$eval("#detail .console .alarm", (ls) => ls.map((l) => l.textContent).join(""))).toContain("Kernel panic");
    expect(d.timeline).toContain("run /bin/sh -c echo c > /proc/sysrq-trigger");
  });

  test("a file-level failure shows the file's error and traceback", async () => {
    const d = await open("(file)");
    expect(d.error).toContain(`${suite}/b_setup_fails.test.lua:3: settings.json: no such file`);
    expect(d.error).toContain(`${suite}/b_setup_fails.test.lua:5: in main chunk`);
    expect(d.error).not.toContain("xpcall"); // the runner's own frames are left out
  });

  test("a capture's pcap is attached to its test", async () => {
    await open("a bridge capture is attached");
    const href = await page.$eval("#detail .attachments a", (a) => a.getAttribute("href")!);
    expect(await page.$eval("#detail .attachments a", (a) => a.textContent)).toBe("lan.pcap");
    expect(readFileSync(join(dir, "html", href)).subarray(0, 4)).toEqual(Buffer.from([0xd4, 0xc3, 0xb2, 0xa1])); // pcap magic
  });

  test("the page raised no script error", () => {
    expect(pageErrors).toEqual([]);
  });
});
