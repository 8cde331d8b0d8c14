// --gdb on a real guest: with --debug the booting VM waits for the debugger; Debian's gdb
// connects to the printed unix socket, reads the registers and leaves, and the test then runs
// and passes (it also checks vm:monitor and the qemu_args boot option).
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dir, "../../..");
const main = resolve(import.meta.dir, "../src/main.ts");

test("gdb reads a waiting VM's registers through the printed socket, then the test passes", async () => {
  expect(Bun.which("gdb")).not.toBeNull(); // scripts/setup.sh installs Debian's gdb
  const p = Bun.spawn(["bun", main, "apps/cli/test/fixtures/gdb", "--gdb", "--debug"], { cwd: root, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let out = "";
  const stderr = new Response(p.stderr).text();
  const reading = (async () => {
    for await (const chunk of p.stdout) out += new TextDecoder().decode(chunk);
  })();
  try {
    const deadline = Date.now() + 600_000;
    let socket: string | undefined;
    while (!(socket = out.match(/gdbstub on (\S+)/)?.[1])) {
      if (Date.now() > deadline) throw new Error(`no gdbstub line; output:\n${out}\n${await stderr}`);
      await Bun.sleep(100);
    }
    expect(existsSync(socket)).toBe(true);
    // The VM is stopped until the debugger continues or detaches: nothing has passed yet.
    await Bun.sleep(2000);
    expect(out).not.toContain("✓");
    const gdb = Bun.spawnSync(["gdb", "-nx", "-batch", "-ex", `target remote ${socket}`, "-ex", "info registers"], { stdout: "pipe", stderr: "pipe", timeout: 120_000 });
    const answer = gdb.stdout.toString();
    expect(answer).toMatch(/^rip\s+0x[0-9a-f]+/m);
    expect(answer).toMatch(/^rsp\s+0x[0-9a-f]+/m);
    expect(await p.exited).toBe(0);
    await reading;
    expect(out).toContain("✓ apps/cli/test/fixtures/gdb/gdb.test.lua › runs once the debugger let go");
    expect(out).toMatch(/^1 passed, 0 failed/m);
  } finally {
    p.kill("SIGKILL");
  }
}, 900_000);
