// The CLI in upstream's shapes (peios/provium provium-host/src/bin/provium.rs, provium-coverage):
// --filter on file paths, --tag-meta, list --fixtures, --since REF, coverage --by KEY; and the
// reset_between_tests refusal, which only a run can show (it fails the file's first test).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join, resolve } from "node:path";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";

const main = resolve(import.meta.dir, "../src/main.ts");
setDefaultTimeout(120_000); // each case runs provium a few times
const runner = join(import.meta.dir, "fixtures/runner");

async function provium(args: string[], cwd = runner, stdin?: string) {
  const p = Bun.spawn(["bun", main, ...args], { cwd, stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr };
}

async function outcomes(args: string[], cwd = runner) {
  const r = await provium([...args, "--json"], cwd);
  const events = r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return events.filter((e) => ["test_passed", "test_failed", "test_skipped"].includes(e.kind)).map((e) => `${e.kind.slice(5)} ${e.test}`).sort();
}

function tempDir(prefix: string) {
  return mkdtempSync(join(tmpdir(), prefix));
}

function write(dir: string, files: Record<string, string>) {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

const listed = (stdout: string) => [...new Set(stdout.trim().split("\n").filter(Boolean).map((l) => l.split(" › ")[0]!))].sort();

describe("selection in upstream's shapes", () => {
  test("--filter also matches a file's path under its root (all its tests run), besides test names", async () => {
    // a.test.lua's path contains "a.test": all of its tests are selected (the slow one stays skipped)
    expect(await outcomes(["sel", "--filter", "a.test"])).toEqual(["failed alpha net", "passed alpha fast", "skipped alpha slow", "skipped gamma"]);
    // names still match
    expect(await outcomes(["sel", "--filter", "beta t"])).toEqual(["passed beta two", "skipped gamma"]);
    // as upstream, the path is the one under the root: "sel/" is the root itself, not part of it
    expect(await outcomes(["sel", "--filter", "sel/"])).toEqual(["skipped gamma"]);
  });

  test("--tag-meta KEY=VALUE: a string or a list holding it; one key's values OR, keys AND; --no-tag-meta removes", async () => {
    expect(await outcomes(["sel", "--tag-meta", "spec=NET-1"])).toEqual(["failed alpha net", "skipped gamma"]);
    expect(await outcomes(["sel", "--tag-meta", "tags=fast"])).toEqual(["passed alpha fast", "passed beta two", "skipped gamma"]);
    expect(await outcomes(["sel", "--tag-meta", "tags=fast", "--tag-meta", "tags=net"])).toEqual(["failed alpha net", "passed alpha fast", "passed beta two", "skipped gamma"]);
    expect(await outcomes(["sel", "--tag-meta", "tags=fast", "--tag-meta", "spec=NET-1"])).toEqual(["skipped gamma"]);
    expect(await outcomes(["sel", "--no-tag-meta", "tags=fast"])).toEqual(["failed alpha net", "passed beta one", "skipped alpha slow", "skipped gamma"]);
    const bad = await provium(["sel", "--tag-meta", "=net"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--tag-meta: expected KEY=VALUE, got "=net" (KEY must be non-empty)');
  });
});

test("list --fixtures lists the *.fixture.lua files under the roots, then their count", async () => {
  const dir = tempDir("provium-listfx-");
  try {
    write(dir, {
      "provium.toml": '[provium]\nroots = ["suite"]\n',
      "suite/base.fixture.lua": "return nil\n",
      "suite/deep/layered.fixture.lua": "return nil\n",
      "suite/a.test.lua": 'test("a", function() end)\n',
    });
    const r = await provium(["list", "--fixtures"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("  suite/base.fixture.lua\n  suite/deep/layered.fixture.lua\n\n2 fixture(s) found\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("--since", () => {
  test("a git revision: changed test files, and those depending on a changed file through helpers, fixtures and pushed files", async () => {
    const dir = tempDir("provium-since-");
    const git = (...args: string[]) => {
      const r = Bun.spawnSync(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], { cwd: dir, stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    };
    try {
      write(dir, {
        "provium.toml": '[provium]\nroots = ["."]\n',
        "helpers/low.lua": "return { n = 1 }\n",
        "helpers/mid.lua": 'local low = require("helpers.low")\nreturn { n = low.n + 1 }\n',
        "direct.test.lua": 'local low = require("helpers.low")\ntest("direct", function() end)\n',
        "through.test.lua": 'local mid = require("helpers.mid")\ntest("through", function() end)\n',
        "alone.test.lua": 'test("alone", function() end)\n',
        "fx/base.fixture.lua": 'local low = require("helpers.low")\nreturn nil\n',
        "resumes.test.lua": 'test("resumes", function() provium:vm_fixture("fx/base") end)\n',
        "data.txt": "payload\n",
        "pushes.test.lua": 'test("pushes", function(t) local vm = nil; if vm then vm:push_file("data.txt", "/tmp/d") end end)\n',
      });
      git("init", "-q");
      git("add", "-A");
      git("commit", "-qm", "first");
      // nothing changed: nothing runs, and that is not an error
      const none = await provium(["list", "--since", "HEAD"], dir);
      expect(none.code).toBe(0);
      expect(listed(none.stdout)).toEqual([]);
      // a helper two requires away changes (in the work tree): every test file reaching it
      writeFileSync(join(dir, "helpers/low.lua"), "return { n = 2 }\n");
      expect(listed((await provium(["list", "--since", "HEAD"], dir)).stdout)).toEqual(["direct.test.lua", "resumes.test.lua", "through.test.lua"]);
      git("commit", "-qam", "low changes");
      expect(listed((await provium(["list", "--since", "HEAD"], dir)).stdout)).toEqual([]);
      expect(listed((await provium(["list", "--since", "HEAD~1"], dir)).stdout)).toEqual(["direct.test.lua", "resumes.test.lua", "through.test.lua"]);
      // a pushed host file, a test file itself, and a new test file git does not track yet
      writeFileSync(join(dir, "data.txt"), "other payload\n");
      writeFileSync(join(dir, "alone.test.lua"), 'test("alone, edited", function() end)\n');
      writeFileSync(join(dir, "new.test.lua"), 'test("new", function() end)\n');
      expect(listed((await provium(["list", "--since", "HEAD"], dir)).stdout)).toEqual(["alone.test.lua", "new.test.lua", "pushes.test.lua"]);
      // and it runs what it selects
      expect(await outcomes(["--since", "HEAD"], dir)).toEqual(["passed alone, edited", "passed new", "passed pushes"]);
      const bad = await provium(["--since", "no-such-revision"], dir);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("--since no-such-revision: neither a file nor a git revision of");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a file's path (upstream's form): the test files modified after it", async () => {
    const dir = tempDir("provium-since-file-");
    try {
      write(dir, { "ref.txt": "", "old.test.lua": 'test("old", function() end)\n', "new.test.lua": 'test("new", function() end)\n' });
      const t = Date.now() / 1000;
      utimesSync(join(dir, "old.test.lua"), t - 100, t - 100);
      utimesSync(join(dir, "ref.txt"), t - 50, t - 50);
      expect(listed((await provium(["list", "--since", "ref.txt"], dir)).stdout)).toEqual(["new.test.lua"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("coverage --by KEY over the events a real run saved: per value, tests passed, failed and skipped", async () => {
  const dir = tempDir("provium-cov-");
  try {
    const events = join(dir, "events.jsonl");
    const run = await provium(["sel", "--save-events", events]);
    expect(run.code).toBe(1); // alpha net fails
    const bySpec = await provium(["coverage", events, "--by", "spec"]);
    expect(bySpec.code).toBe(0);
    expect(bySpec.stdout).toBe(
      [
        "coverage by `spec`:",
        "  NET-1: 1 tests (0 passed, 1 failed, 0 skipped)",
        "  <unset>: 5 tests (3 passed, 0 failed, 2 skipped)",
        "  ---",
        "  buckets: 1; 3 passed, 1 failed, 2 skipped",
        "",
      ].join("\n"),
    );
    // a list value counts toward each of its elements; upstream's --from and stdin read the same file
    const byTags = await provium(["coverage", "--from", events, "--by", "tags"]);
    expect(byTags.stdout).toContain("  fast: 2 tests (2 passed, 0 failed, 0 skipped)\n  net: 1 tests (0 passed, 1 failed, 0 skipped)\n  <unset>: 3 tests (1 passed, 0 failed, 2 skipped)\n");
    const json = await provium(["coverage", "--by", "tags", "--json"], runner, await Bun.file(events).text());
    expect(JSON.parse(json.stdout)).toEqual({
      buckets: { fast: { passed: 2, failed: 0, skipped: 0 }, net: { passed: 0, failed: 1, skipped: 0 } },
      uncategorised: { passed: 1, failed: 0, skipped: 2 },
    });
    // the default key is upstream's: spec
    expect((await provium(["coverage", events])).stdout).toBe(bySpec.stdout);
    const bad = await provium(["coverage", join(dir, "missing.jsonl")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("missing.jsonl");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("reset_between_tests refused by a stream left open at the top level says reset_between_tests (real guest)", async () => {
  const r = await provium(["reset-stream", "--json"]);
  const failed = r.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.kind === "test_failed");
  expect(failed.length).toBe(1);
  expect(failed[0].reason).toContain("reset_between_tests");
  expect(failed[0].reason).toContain("cannot snapshot while streams are open");
  expect(failed[0].reason).toContain("console of vm rbt opened at reset-stream/open-console.test.lua:5");
}, 600_000);
