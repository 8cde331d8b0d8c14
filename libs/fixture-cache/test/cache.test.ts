import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { FixtureCache, parseSize } from "../src";

const made: string[] = [];
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
const fresh = (opts = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "provium-fc-"));
  made.push(dir);
  return new FixtureCache(dir, opts);
};

function stage(cache: FixtureCache, bytes: number) {
  const dir = cache.stagingDir();
  writeFileSync(join(dir, "mem"), new Uint8Array(bytes).fill(7));
  return dir;
}

describe("fixture cache", () => {
  test("commit then lookup; a missing directory is a miss", () => {
    const c = fresh();
    expect(c.lookup("k1")).toBeNull();
    const e = c.commit("k1", "dir/base", stage(c, 10_000), { vms: ["v"] });
    expect(e.name).toBe("dir/base");
    expect(e.size).toBeGreaterThanOrEqual(10_000);
    expect(c.lookup("k1")!.meta).toEqual({ vms: ["v"] });
    rmSync(e.dir, { recursive: true });
    expect(c.lookup("k1")).toBeNull();
    expect(c.list()).toEqual([]);
  });

  test("LRU eviction keeps the total under the cap", async () => {
    const c = fresh({ maxBytes: 25_000 });
    c.commit("a", "a", stage(c, 10_000), {});
    await Bun.sleep(5);
    c.commit("b", "b", stage(c, 10_000), {});
    await Bun.sleep(5);
    c.lookup("a"); // a is now more recently used than b
    await Bun.sleep(5);
    c.commit("c", "c", stage(c, 10_000), {});
    expect(c.list().map((e) => e.key).sort()).toEqual(["a", "c"]);
    expect(existsSync(join(c.root, "entries", "b"))).toBe(false);
  });

  test("boot templates share the index and the LRU with fixtures, told apart by kind; clean(kind) removes one kind", async () => {
    const c = fresh({ maxBytes: 25_000 });
    c.commit("f", "dir/base", stage(c, 10_000), {});
    await Bun.sleep(5);
    c.commit("t", "minimal 512M 1cpu", stage(c, 10_000), { format: 1 }, "template");
    expect(c.list("template").map((e) => [e.key, e.kind])).toEqual([["t", "template"]]);
    expect(c.list("fixture").map((e) => [e.key, e.kind])).toEqual([["f", "fixture"]]);
    await Bun.sleep(5);
    c.commit("t2", "debian 512M 1cpu", stage(c, 10_000), {}, "template"); // over the cap: the oldest entry goes, whatever its kind
    expect(c.list().map((e) => e.key).sort()).toEqual(["t", "t2"]);
    c.clean("template");
    expect(c.list()).toEqual([]);
  });

  test("an index made before templates gets the kind column; its entries are fixtures", () => {
    const dir = mkdtempSync(join(tmpdir(), "provium-fc-"));
    made.push(dir);
    const old = new Database(join(dir, "index.sqlite"), { create: true });
    old.exec("CREATE TABLE entries (key TEXT PRIMARY KEY, name TEXT NOT NULL, size INTEGER NOT NULL, created INTEGER NOT NULL, last_used INTEGER NOT NULL, meta TEXT NOT NULL)");
    old.query("INSERT INTO entries VALUES ('k', 'old', 1, 1, 1, '{}')").run();
    old.close();
    mkdirSync(join(dir, "entries", "k"), { recursive: true });
    const c = new FixtureCache(dir);
    expect(c.lookup("k")).toMatchObject({ key: "k", kind: "fixture", name: "old" });
    expect(new FixtureCache(dir).list("fixture").length).toBe(1); // a second open finds the column there
  });

  test("tryLock: the entry, else the lock, else null while another builder holds it", () => {
    const c = fresh();
    const got = c.tryLock("k");
    expect(got && "lock" in got).toBe(true);
    expect(new FixtureCache(c.root).tryLock("k")).toBeNull();
    c.commit("k", "t", stage(c, 10), {}, "template");
    (got as any).lock.release();
    expect(new FixtureCache(c.root).tryLock("k")).toMatchObject({ entry: { key: "k", kind: "template" } });
  });

  test("a second builder waits for the first and then hits", async () => {
    const c1 = fresh();
    const c2 = new FixtureCache(c1.root);
    const first = await c1.lockForBuild("k");
    expect("lock" in first).toBe(true);
    let secondDone = false;
    const second = c2.lockForBuild("k", 20).then((r) => ((secondDone = true), r));
    await Bun.sleep(100);
    expect(secondDone).toBe(false);
    c1.commit("k", "f", stage(c1, 100), { ok: true });
    (first as any).lock.release();
    const r = await second;
    expect("entry" in r && r.entry.meta).toEqual({ ok: true });
  });

  test("a builder that failed releases the lock; a stale lock is taken over", async () => {
    const c = fresh({ staleLockMs: 50 });
    const a = (await c.lockForBuild("k")) as any;
    a.lock.release();
    const b = (await c.lockForBuild("k")) as any;
    expect(b.lock).toBeDefined();
    clearInterval(b.lock.timer); // the holder "dies": no more heartbeats
    const t = performance.now();
    const d = (await c.lockForBuild("k", 10)) as any;
    expect(d.lock.owner).not.toBe(b.lock.owner);
    expect(performance.now() - t).toBeGreaterThanOrEqual(40);
    d.lock.release();
  });

  test("staging dirs of a build whose process is gone are removed when the cache opens; a live one's stay", () => {
    const c = fresh();
    const mine = stage(c, 10);
    const dead = Bun.spawnSync(["true"]).pid; // exited and reaped: no such process now
    const orphan = join(c.root, "entries", `.staging-${dead}-0123456789ab`);
    mkdirSync(orphan);
    writeFileSync(join(orphan, "mem"), "half a snapshot");
    c.close();
    const again = new FixtureCache(c.root);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(mine)).toBe(true);
    again.close();
  });

  test("sizes parse", () => {
    expect(parseSize("20G")).toBe(20e9);
    expect(parseSize("500M")).toBe(500e6);
    expect(parseSize("1024")).toBe(1024);
    expect(() => parseSize("lots")).toThrow(/not a size/);
  });
});
