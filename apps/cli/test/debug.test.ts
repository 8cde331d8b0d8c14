// --debug on real guests, driven through a pipe as a user would type: a failed test pauses the
// run with its VMs alive (one made inside the test, which the test's end would shut down), the
// prompt inspects it, .continue goes on and the run ends with the right summary and nothing left
// running; .stop ends the run after the failed test.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../../..");
const main = resolve(import.meta.dir, "../src/main.ts");

/** provium with stdin a pipe: `until(text)` waits for output, `type(line)` sends a line. */
function interactiveRun(args: string[]) {
  const p = Bun.spawn(["bun", main, ...args], { cwd: root, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let out = "";
  const waiters: { text: string | RegExp; from: number; resolve: (at: number) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const rest = out.slice(w.from);
      const at = typeof w.text === "string" ? rest.indexOf(w.text) : (rest.match(w.text)?.index ?? -1);
      if (at >= 0) waiters.splice(waiters.indexOf(w), 1), w.resolve(w.from + at);
    }
  };
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) (out += new TextDecoder().decode(chunk)), check();
  };
  const done = Promise.all([pump(p.stdout), pump(p.stderr)]).then(() => p.exited);
  let mark = 0;
  return {
    get out() {
      return out;
    },
    /** Resolves once `text` appears after the last thing waited for; then the mark moves past it. */
    until(text: string | RegExp, ms = 600_000) {
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`waited ${ms / 1000} s for ${text}; output so far:\n${out}`)), ms);
        waiters.push({
          text,
          from: mark,
          resolve: (at) => {
            clearTimeout(timer);
            const seen = out.slice(mark, at);
            mark = at + 1;
            resolve(seen);
          },
        });
        check();
      });
    },
    type(line: string) {
      p.stdin.write(line + "\n");
      p.stdin.flush();
    },
    done,
    kill: () => p.kill("SIGKILL"),
  };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]!.startsWith("Z");
  } catch {
    return false;
  }
};

describe("--debug", () => {
  test("a failure opens a prompt on the test's live VM; .continue finishes the run with nothing left", async () => {
    const dir = mkdtempSync(join(tmpdir(), "provium-debug-"));
    const events = join(dir, "events.jsonl");
    const run = interactiveRun(["apps/cli/test/fixtures/debugging", "--debug", "--save-events", events]);
    try {
      const intro = await run.until("debug> ");
      expect(intro).toContain('--- test "fails on a live VM" failed');
      expect(intro).toContain("a_fails.test.lua:10:"); // the traceback's file:line
      expect(intro).toContain("the run is paused and the test's VMs are alive: `vm` is box");
      run.type('vm:run("cat /proc/uptime").stdout');
      expect(await run.until("debug> ")).toMatch(/"\d+\.\d+ \d+\.\d+\\n"/);
      run.type("box:read_file('/tmp/state')"); // the file's VMs by name
      expect(await run.until("debug> ")).toContain('"left for the debugger\\n"');
      run.type("vm:state(), lab:vm_names()");
      expect(await run.until("debug> ")).toContain('"booted"\t{"box"}');
      run.type("print(undefined_thing.x)");
      expect(await run.until("debug> ")).toContain("attempt to index a nil value");
      run.type(".continue");
      const code = await run.done;
      expect(run.out).toMatch(/^3 passed, 1 failed/m);
      expect(code).toBe(1);
      // No leaks: every QEMU the run started is gone, with its run directory.
      const spawned = readFileSync(events, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.kind === "vm_spawned");
      expect(spawned.length).toBe(1);
      for (const e of spawned) {
        expect(alive(e.pid)).toBe(false);
        expect(existsSync(e.run_dir)).toBe(false);
      }
    } finally {
      run.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);

  test(".stop ends the run after the failed test", async () => {
    const run = interactiveRun(["apps/cli/test/fixtures/debugging-stop", "--debug"]);
    try {
      const intro = await run.until("debug> ", 120_000);
      expect(intro).toContain('expected "right", got "left"');
      expect(intro).not.toContain("`vm` is"); // no VM in this test
      run.type(".nonsense");
      expect(await run.until("debug> ", 60_000)).toContain("unknown command .nonsense (known: .continue, .stop)");
      run.type(".stop");
      expect(await run.done).toBe(1);
      expect(run.out).toMatch(/^0 passed, 1 failed/m);
      expect(run.out).not.toContain("never runs after .stop");
      expect(run.out).not.toContain("is never dispatched");
    } finally {
      run.kill();
    }
  }, 180_000);

  test("provium repl --fixture NAME opens the prompt on the fixture's VM at its snapshot", async () => {
    // tests/fixtures/base.fixture.lua left "fixture-state" in /tmp/fixture before its snapshot.
    const repl = Bun.spawn(["bun", main, "repl", "--fixture", "base"], { cwd: join(root, "tests", "fixtures"), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    repl.stdin.write('vm:read_file("/tmp/fixture")\n');
    repl.stdin.end();
    const out = await new Response(repl.stdout).text();
    expect(await repl.exited).toBe(0);
    expect(out).toContain('"fixture-state\\n"');
    expect(out).toContain("vm is ready as `vm`");
  }, 600_000);
});
