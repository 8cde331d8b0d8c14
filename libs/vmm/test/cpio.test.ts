import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { encodeCpio, parseCpio, withParents, type CpioEntry } from "../src/index";
import { removeTempDirs, tempDir } from "./helpers";

const entries: CpioEntry[] = withParents([
  { type: "file", path: "/init", data: new TextEncoder().encode("#!/bin/sh\necho hi\n"), mode: 0o755 },
  { type: "file", path: "a/b/c.txt", data: new Uint8Array([1, 2, 3]) }, // 3 bytes: exercises padding
  { type: "file", path: "empty", data: new Uint8Array(0), mode: 0o600 },
  { type: "dir", path: "a/private", mode: 0o700 },
  { type: "symlink", path: "a/link", target: "b/c.txt" },
  { type: "char", path: "dev/console", major: 5, minor: 1, mode: 0o600 },
]);

describe("cpio newc writer", () => {
  test("round-trips through the parser", () => {
    const parsed = parseCpio(encodeCpio(entries));
    const byName = new Map(parsed.map((e) => [e.name, e]));
    expect(parsed.map((e) => e.name)).toEqual(["init", "a", "a/b", "a/b/c.txt", "empty", "a/private", "a/link", "dev", "dev/console"]);
    expect(byName.get("init")!.mode).toBe(0o100755);
    expect(Buffer.from(byName.get("a/b/c.txt")!.data)).toEqual(Buffer.from([1, 2, 3]));
    expect(byName.get("a/private")!.mode).toBe(0o040700);
    expect(byName.get("a")!.mode).toBe(0o040755); // implied parent
    expect(byName.get("a/link")!.mode).toBe(0o120777);
    expect(new TextDecoder().decode(byName.get("a/link")!.data)).toBe("b/c.txt");
    expect(byName.get("dev/console")!.mode).toBe(0o020600);
    expect([byName.get("dev/console")!.rdevMajor, byName.get("dev/console")!.rdevMinor]).toEqual([5, 1]);
  });

  test("GNU cpio lists and extracts it", () => {
    const dir = tempDir("cpio");
    try {
      const archive = path.join(dir, "x.cpio");
      fs.writeFileSync(archive, encodeCpio(entries.filter((e) => !e.path.startsWith("dev")))); // mknod needs root
      const list = Bun.spawnSync(["cpio", "-t", "--quiet", "-F", archive]);
      expect(list.success).toBe(true);
      expect(list.stdout.toString().trim().split("\n")).toEqual(["init", "a", "a/b", "a/b/c.txt", "empty", "a/private", "a/link"]);
      const out = path.join(dir, "out");
      fs.mkdirSync(out);
      const x = Bun.spawnSync(["cpio", "-i", "-d", "--quiet", "-F", archive], { cwd: out });
      expect(x.success).toBe(true);
      expect(fs.readFileSync(path.join(out, "init"), "utf8")).toBe("#!/bin/sh\necho hi\n");
      expect(fs.statSync(path.join(out, "init")).mode & 0o777).toBe(0o755);
      expect(fs.readlinkSync(path.join(out, "a/link"))).toBe("b/c.txt");
      expect(fs.readFileSync(path.join(out, "a/link"))).toEqual(Buffer.from([1, 2, 3]));
      expect(fs.statSync(path.join(out, "empty")).size).toBe(0);
    } finally {
      removeTempDirs();
    }
  });

  test("rejects paths escaping the root", () => {
    expect(() => encodeCpio([{ type: "dir", path: "../etc" }])).toThrow(/escapes/);
  });

  test("parses concatenated archives with zero padding between them", () => {
    const a = encodeCpio([{ type: "file", path: "one", data: new Uint8Array([1]) }]);
    const b = encodeCpio([{ type: "file", path: "two", data: new Uint8Array([2]) }]);
    const names = parseCpio(Buffer.concat([a, new Uint8Array(512 - (a.length % 512)), b])).map((e) => e.name);
    expect(names).toEqual(["one", "two"]);
  });
});
