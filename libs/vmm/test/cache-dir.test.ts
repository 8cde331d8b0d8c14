import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { pruneCache } from "../src/image/cache-dir";
import { removeTempDirs, tempDir } from "./helpers";

afterAll(removeTempDirs);

const DAY = 24 * 3600 * 1000;

// Entries with a given age (mtime = last use).
function entries(dir: string, ages: Record<string, number>) {
  for (const [name, ageMs] of Object.entries(ages)) {
    const p = path.join(dir, name);
    fs.writeFileSync(p, name);
    const t = new Date(Date.now() - ageMs);
    fs.utimesSync(p, t, t);
  }
}

test("pruneCache removes matches unused for longer than the rule's age, never the entry in use", () => {
  const dir = tempDir("prune");
  entries(dir, { "old.img": 8 * DAY, "fresh.img": DAY, "used.img": 30 * DAY, "x.lock": 30 * DAY });
  pruneCache(dir, path.join(dir, "used.img"), [{ match: (f) => f.endsWith(".img"), afterMs: 7 * DAY }]);
  expect(fs.readdirSync(dir).sort()).toEqual(["fresh.img", "used.img", "x.lock"]);
});

test("pruneCache keeps the newest matches whatever their age, and applies each rule to its own matches", () => {
  const dir = tempDir("prune");
  entries(dir, { "a.img": 4 * DAY, "b.img": 3 * DAY, "c.img": 2 * DAY, "d.img": 60_000, ".d.img.tmp-1": 2 * DAY, ".e.img.tmp-2": 60_000 });
  pruneCache(dir, path.join(dir, "d.img"), [
    { match: (f) => f.endsWith(".img"), afterMs: 10 * 60_000, keepNewest: 2 },
    { match: (f) => f.includes(".tmp-"), afterMs: DAY },
  ]);
  expect(fs.readdirSync(dir).sort()).toEqual([".e.img.tmp-2", "b.img", "c.img", "d.img"]);
});
