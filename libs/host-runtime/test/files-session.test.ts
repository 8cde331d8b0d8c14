// The host side of push_file: the session records the host files pushed (path, sha256),
// for the fixture cache key, and refuses clearly when a host file cannot be read.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSession } from "../src/session";
import { builtinProfiles, type RuntimeConfig as Config } from "../src/config";

function session() {
  const config: Config = { file: null, dir: process.cwd(), roots: ["."], profiles: { ...builtinProfiles } };
  const s = new FileSession({
    config,
    cacheDir: tmpdir(),
    agentEntry: "/nonexistent/main.ts", // no VM boots here
    accel: "tcg",
    filePath: "t/x.test.lua",
    plan: (tests) => tests.map(() => "run"),
    agentDeadlineMs: 1000,
    onProgress: () => {},
    onTestBegin: () => {},
    onVmEvent: () => {},
    acquire: async () => () => {},
    emit: () => {},
    fixtures: () => null as never,
  });
  const vm = s.handle("vm.create", { name: "v", profile: "minimal" }) as Promise<number>;
  return { s, vm };
}

describe("push_file on the host", () => {
  const dir = mkdtempSync(join(tmpdir(), "provium-push-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "a.bin"), "alpha");
  writeFileSync(join(dir, "b.bin"), "beta");
  const sha = (s: string) => createHash("sha256").update(s).digest("hex");

  test("records each host file it reads (path, sha256), unless auto_dep = false", async () => {
    const { s, vm } = session();
    const target = { vm: await vm };
    const push = (args: object) => s.handle("guest", { target, op: "push_file", args: { guest: "/tmp/x", ...args } });
    // The VM is not booted: the op fails after the host file was read.
    await expect(push({ host: "a.bin", base: dir })).rejects.toThrow("VM not booted");
    await expect(push({ host: join(dir, "b.bin"), base: "/elsewhere" })).rejects.toThrow("VM not booted");
    await expect(push({ host: "a.bin", base: dir })).rejects.toThrow("VM not booted"); // once per path
    writeFileSync(join(dir, "c.bin"), "gamma");
    await expect(push({ host: "c.bin", base: dir, auto_dep: false })).rejects.toThrow("VM not booted");
    expect(s.hostDependencies()).toEqual([
      { path: join(dir, "a.bin"), sha256: sha("alpha") },
      { path: join(dir, "b.bin"), sha256: sha("beta") },
    ]);
  });

  test("a missing host file names the call and the resolved path", async () => {
    const { s, vm } = session();
    const r = s.handle("guest", { target: { vm: await vm }, op: "push_file", args: { host: "nope.bin", guest: "/tmp/x", base: dir } });
    await expect(r).rejects.toThrow(`push_file nope.bin -> /tmp/x: cannot read host file ${join(dir, "nope.bin")}: ENOENT`);
    expect(s.hostDependencies()).toEqual([]);
  });
});
