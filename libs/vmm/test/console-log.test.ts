// A guest flooding its serial console cannot fill the host's disk: past 32 MiB the log keeps
// its last MiB behind a marker, and still ends with the latest output.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsoleHost } from "../src/machine/console";

const dir = mkdtempSync(join(tmpdir(), "provium-console-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a console flood of 40 MiB leaves a log cut at 32 MiB to its last MiB, ending with the latest line", async () => {
  const host = await ConsoleHost.listen(join(dir, "c.sock"), join(dir, "console.log"));
  const sock = connect(join(dir, "c.sock"));
  await new Promise((r) => sock.once("connect", r));
  const line = Buffer.from("x".repeat(1023) + "\n");
  for (let i = 0; i < 40 * 1024; i++) if (!sock.write(line)) await new Promise((r) => sock.once("drain", r));
  await new Promise<void>((r) => sock.end("the last line\n", () => r()));
  while (host.bytes < 40 * 1024 * 1024 + 14) await Bun.sleep(20);
  host.close();
  const size = statSync(join(dir, "console.log")).size;
  // cut once past 32 MiB to the last 1 MiB, then the remaining ~8 MiB appended
  expect(size).toBeLessThan(10 * 1024 * 1024);
  const log = readFileSync(join(dir, "console.log"), "latin1");
  expect(log).toContain("[provium: console log cut to its last 1 MiB");
  expect(log.endsWith("the last line\n")).toBe(true);
});
