// Host files from Lua, runner side (no guest needed): os.tmpname's files are made in an owned
// temp dir and gone when the test file ends; fds of a stopped Lua thread are closed.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { startLuaThread } from "@provium/lua-runtime";

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

// /proc/self/fd entries of this process that point at `path` (Lua threads are threads of it).
function fdsOn(path: string) {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  });
}

test("host files a Lua thread holds are closed when it is stopped (a timeout)", async () => {
  const held = join(dir, "held.txt");
  writeFileSync(held, "x");
  let opened!: () => void;
  const isOpen = new Promise<void>((r) => (opened = r));
  const source = `local f = assert(io.open(${JSON.stringify(held)}))
local g = assert(io.open(${JSON.stringify(held)}))
g:close()
__provium_private.call("opened")
while true do end`;
  const lua = startLuaThread({ displayPath: join(dir, "spin.test.lua"), source }, async (op) => (op === "opened" ? opened() : null), () => {});
  await isOpen;
  expect(fdsOn(held).length).toBe(1);
  lua.stop("timed out");
  expect(await lua.done).toBe("timed out");
  for (let i = 0; i < 500 && fdsOn(held).length; i++) await Bun.sleep(20); // a terminated worker closes late on a busy host
  expect(fdsOn(held)).toEqual([]);
}, 30_000);
