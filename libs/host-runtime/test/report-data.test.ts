// What failure reports are made of, host-side: console excerpts after the firmware's, the
// timed records of VM ops, and attachments (the real-guest side: apps/cli/test/report.test.ts).
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { failureExcerpt } from "../src/console-excerpt";
import { timed, type OpRecord } from "../src/op-timeline";
import { ATTACH_MAX, readAttachment } from "../src/attachments";

const firmware = "\x1bc\x1b[?7l\x1b[2JSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n\r\niPXE (https://ipxe.org) 00:02.0 CA00\r\nBooting from ROM...\r\n";

test("console excerpts: the last lines after the firmware's, or from the panic when a tail would miss it", () => {
  const kernel = Array.from({ length: 100 }, (_, i) => `[ ${i}.0] line ${i}`).join("\r\n");
  const tail = failureExcerpt(firmware + kernel, 40).split("\n");
  expect(tail.length).toBe(40);
  expect(tail[0]).toBe("[ 60.0] line 60");
  expect(tail.at(-1)).toBe("[ 99.0] line 99");
  expect(failureExcerpt(firmware, 40)).toBe("(nothing after the firmware's lines)");
  expect(failureExcerpt(firmware + "[ 1.0] only line\r\n", 40)).toBe("[ 1.0] only line");
  const panic = ["[ 5.0] sysrq: Trigger a crash", "[ 5.1] Kernel panic - not syncing: sysrq triggered crash", ...Array.from({ length: 60 }, (_, i) => `[ 6.${i}] trace ${i}`)];
  const fromPanic = failureExcerpt(firmware + panic.join("\n"), 40).split("\n");
  expect(fromPanic[0]).toBe("[ 5.0] sysrq: Trigger a crash");
  expect(fromPanic[1]).toContain("Kernel panic - not syncing");
  expect(fromPanic.length).toBe(40);
  // no firmware at all (a restored VM's console starts with the kernel's): the tail
  expect(failureExcerpt("a\nb\nc", 2)).toBe("b\nc");
});

test("timed ops: name, VM, what, duration, answer or error; bookkeeping calls are not recorded", async () => {
  const got: OpRecord[] = [];
  const names = (id: unknown) => (id === 0 ? "web" : undefined);
  const run = { status: "exited", exit_code: 0, stdout: new TextEncoder().encode("hello\n"), stderr: new Uint8Array() };
  await timed("guest", { target: { vm: 0 }, op: "run", args: { cmd: { argv: ["/bin/sh", "-c", "echo hello"] } } }, names, async () => (await Bun.sleep(5), run), (r) => got.push(r));
  await timed("vm.boot", { vms: [0] }, names, () => undefined, (r) => got.push(r));
  await expect(timed("guest", { target: { vm: 0 }, op: "read_file", args: { path: "/nope" } }, names, () => Promise.reject(new Error("read_file /nope: No such file (ENOENT)")), (r) => got.push(r))).rejects.toThrow("ENOENT");
  await timed("vm.state", { vm: 0 }, names, () => "booted", (r) => got.push(r));
  expect(got.map((r) => [r.op, r.vm, r.what, r.ok])).toEqual([
    ["run", "web", "run /bin/sh -c echo hello", true],
    ["boot", "web", "boot", true],
    ["read_file", "web", "read_file /nope", false],
  ]);
  expect(got[0]!.out).toBe("exited 0\nstdout: hello\n");
  expect(got[0]!.ms).toBeGreaterThanOrEqual(4);
  expect(got[2]!.err).toBe("read_file /nope: No such file (ENOENT)");
  // output is cut
  const big = { ...run, stdout: new Uint8Array(10_000).fill(65) };
  await timed("guest", { target: { vm: 0 }, op: "run", args: { cmd: { argv: ["x"] } } }, names, () => big, (r) => got.push(r));
  expect(got.at(-1)!.out!.length).toBeLessThan(2100);
  expect(got.at(-1)!.out).toContain("… (10000 bytes)");
});

const dir = mkdtempSync(join(tmpdir(), "provium-attach-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("attachments: a host file by name, a string as itself, path and data forced, big ones cut", () => {
  writeFileSync(join(dir, "cap.pcap"), new Uint8Array([0xd4, 0xc3, 0xb2, 0xa1]));
  const file = readAttachment({ name: "cap.pcap", value: "cap.pcap", dir });
  expect(file).toMatchObject({ name: "cap.pcap", bytes: 4, truncated: false, source: join(dir, "cap.pcap") });
  expect(Buffer.from(file.data, "base64")).toEqual(Buffer.from([0xd4, 0xc3, 0xb2, 0xa1]));
  const text = readAttachment({ name: "note", value: "not a file here", dir });
  expect(Buffer.from(text.data, "base64").toString()).toBe("not a file here");
  expect(text.source).toBeUndefined();
  expect(Buffer.from(readAttachment({ name: "n", data: "cap.pcap", dir }).data, "base64").toString()).toBe("cap.pcap");
  expect(() => readAttachment({ name: "n", path: "missing.pcap", dir })).toThrow(`t:attach: no such host file: ${join(dir, "missing.pcap")}`);
  const big = readAttachment({ name: "big", data: new Uint8Array(ATTACH_MAX + 10), dir });
  expect(big).toMatchObject({ bytes: ATTACH_MAX + 10, truncated: true });
  expect(Buffer.from(big.data, "base64").length).toBe(ATTACH_MAX);
});
