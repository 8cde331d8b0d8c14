// os.tmpname's files are the runner's: made in an owned temp dir and gone when the test
// file ends (no guest needed).
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";

const main = resolve(import.meta.dir, "../src/main.ts");
const dir = mkdtempSync(join(tmpdir(), "provium-hostio-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("os.tmpname files are removed when their test file ends", async () => {
  writeFileSync(
    join(dir, "a.test.lua"),
    `test("writes a temp file and says where", function(t)
  local p = os.tmpname()
  local f = assert(io.open(p, "w"))
  f:write("temp")
  f:close()
  local out = assert(io.open("where.txt", "w"))
  out:write(p)
  out:close()
  t:assert_eq(io.open(p):read("a"), "temp")
end)`,
  );
  // Runs after a.test.lua in the same runner worker (-j 1), before the process exits.
  writeFileSync(
    join(dir, "b.test.lua"),
    `test("the temp file of the file before is gone", function(t)
  local p = io.lines("where.txt")()
  t:assert_eq(select(2, io.open(p)), p .. ": No such file or directory")
end)`,
  );
  const p = Bun.spawn(["bun", main, "a.test.lua", "b.test.lua", "-j", "1"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const out = (await new Response(p.stdout).text()) + (await new Response(p.stderr).text());
  expect(await p.exited, out).toBe(0);
  const tmp = readFileSync(join(dir, "where.txt"), "utf8");
  expect(basename(dirname(tmp))).toMatch(/^provium-tmp-p\d+-/);
  expect(existsSync(tmp)).toBe(false);
  expect(existsSync(dirname(tmp))).toBe(false);
}, 60_000);
