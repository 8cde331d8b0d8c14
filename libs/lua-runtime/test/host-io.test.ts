// Lua's io and os libraries on the host's real filesystem (io.lua + host-fs.ts): both
// directions, read formats, positions, Lua's error returns, bytes that are not text.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, closeSync, openSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLua } from "./harness";

const dir = mkdtempSync(join(tmpdir(), "provium-hostio-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Every byte value, NULs and a UTF-8 BOM at the start: none of it may change on the way.
const BINARY = new Uint8Array([0xef, 0xbb, 0xbf, 0, 1, 2, 0xff, 0xfe, 10, 13, 0, ...Array.from({ length: 256 }, (_, i) => i)]);
// A Lua string literal of those bytes (decimal escapes).
const luaBytes = (b: Uint8Array) => `"${[...b].map((x) => "\\" + String(x).padStart(3, "0")).join("")}"`;

let tmpCount = 0;
const ops = {
  "host.tmpname": () => {
    const p = join(dir, `tmp-${++tmpCount}`);
    closeSync(openSync(p, "wx"));
    return p;
  },
};

/** Runs `body` as one test of a file that lives in `dir`; returns its outcome and logs. */
async function run(body: string) {
  const { outcome, events } = await runLua(`test("x", function(t)\n${body}\nend)`, ops, join(dir, "x.test.lua"));
  const o = outcome("x") ?? events.find((e) => e.kind === "file_error")!;
  return { o, logs: events.filter((e) => e.kind === "log").map((e) => e.message) };
}

async function expectPass(body: string) {
  const { o, logs } = await run(body);
  expect(o.reason ?? "").toBe("");
  expect(o.kind).toBe("test_passed");
  return logs;
}

describe("io on the host's filesystem", () => {
  test("Lua writes: the host sees the same bytes; relative paths are the test file's dir", async () => {
    await expectPass(`
      local f = assert(io.open("out.bin", "wb"))
      t:assert_eq(io.type(f), "file")
      t:assert_eq(f:write(${luaBytes(BINARY)}), f)
      f:write("n=", 42, " x=", 1.5)
      t:assert_eq(f:close(), true)
      t:assert_eq(io.type(f), "closed file")
    `);
    const tail = new TextEncoder().encode("n=42 x=1.5");
    expect(new Uint8Array(readFileSync(join(dir, "out.bin")))).toEqual(new Uint8Array([...BINARY, ...tail]));
  });

  test("the host has a file: Lua reads it with every format", async () => {
    writeFileSync(join(dir, "in.txt"), "first\nsecond\n  42 0x10 -1.5e2 nope\nlast");
    await expectPass(`
      local f = assert(io.open("${join(dir, "in.txt")}"))
      t:assert_eq(f:read(), "first")
      t:assert_eq(f:read("L"), "second\\n")
      local a, b, c = f:read("n", "*n", "n")
      t:assert_eq(a, 42); t:assert_eq(math.type(a), "integer")
      t:assert_eq(b, 16)
      t:assert_eq(c, -150.0); t:assert_eq(math.type(c), "float")
      t:assert_eq(select("#", f:read("n")), 1, "a failed number is one nil")
      t:assert_eq(f:read(2), "no", "a failed number consumed only the spaces")
      t:assert_eq(f:read("l"), "pe")
      t:assert_eq(f:read(0), "")
      t:assert_eq(f:read("a"), "last")
      t:assert_eq(f:read("a"), "")
      t:assert_eq(f:read("l"), nil)
      t:assert_eq(f:read(0), nil)
      t:assert_eq(f:read(5), nil)
      f:close()
    `);
  });

  test("binary files read back byte for byte, whole and in counts", async () => {
    writeFileSync(join(dir, "bin"), BINARY);
    await expectPass(`
      local f = assert(io.open("bin", "rb"))
      local whole = f:read("a")
      t:assert_eq(whole, ${luaBytes(BINARY)})
      t:assert_eq(f:seek("set", 3), 3)
      t:assert_eq(f:read(3), "\\0\\1\\2")
      t:assert_eq(f:seek(), 6)
      t:assert_eq(f:seek("end", -2), ${BINARY.length - 2})
      t:assert_eq(f:read(10), "\\254\\255")
      f:close()
    `);
  });

  test("big files: a line longer than a read-ahead piece, counts across pieces, the rest in one read", async () => {
    const big = new Uint8Array(1_000_003).map((_, i) => (i * 7 + 3) % 251);
    for (let i = 0; i < big.length; i++) if (big[i] === 10) big[i] = 11;
    big[150_000] = 10;
    writeFileSync(join(dir, "big.bin"), big);
    await expectPass(`
      local f = assert(io.open("big.bin", "rb"))
      local line = f:read("l")
      t:assert_eq(#line, 150000)
      local a, b = f:read(70000, 1)
      t:assert_eq(#a, 70000)
      t:assert_eq(b:byte(), ${big[220_001]})
      local rest = f:read("a")
      t:assert_eq(#rest, ${1_000_003 - 220_002})
      t:assert_eq(rest:byte(-1), ${big[1_000_002]})
      t:assert_eq(f:seek(), ${1_000_003})
      f:close()
    `);
  });

  test("lines: file:lines, io.lines with formats, the generic for closes early", async () => {
    writeFileSync(join(dir, "lines.txt"), "a\nb\n\nc");
    const logs = await expectPass(`
      local got = {}
      for l in io.lines("lines.txt") do got[#got + 1] = l end
      t:assert_eq(got, {"a", "b", "", "c"})
      got = {}
      for l in io.lines("lines.txt", "L") do got[#got + 1] = l end
      t:assert_eq(got, {"a\\n", "b\\n", "\\n", "c"})
      got = {}
      for a, b in io.lines("lines.txt", 1, "l") do got[#got + 1] = a .. "|" .. b end
      t:assert_eq(got, {"a|", "b|", "\\n|c"})
      local f = assert(io.open("lines.txt"))
      got = {}
      for l in f:lines() do got[#got + 1] = l end
      t:assert_eq(#got, 4)
      t:assert_eq(io.type(f), "file", "file:lines leaves the file open")
      f:close()
      local it, _, _, file = io.lines("lines.txt")
      for l in it, nil, nil, file do break end
      t:assert_eq(io.type(file), "closed file", "leaving the for closes it")
      local e = t:assert_raises(function() io.lines("nope.txt") end)
      t:assert_contains(e, "nope.txt: No such file or directory")
    `);
    expect(logs).toEqual([]);
  });

  test("modes: w truncates, a appends wherever the position is, r+ overwrites in place", async () => {
    writeFileSync(join(dir, "m.txt"), "0123456789");
    await expectPass(`
      local f = assert(io.open("m.txt", "r+"))
      f:seek("set", 2)
      f:write("ab")
      t:assert_eq(f:read(2), "45")
      f:close()
      f = assert(io.open("m.txt", "a+"))
      t:assert_eq(f:read(1), "0", "a+ reads from the start")
      f:write("Z")
      t:assert_eq(f:seek(), 11)
      f:seek("set", 0)
      t:assert_eq(f:read("a"), "01ab456789Z")
      f:close()
      f = assert(io.open("m2.txt", "w"))
      f:write("x"); f:close()
      f = assert(io.open("m2.txt", "w+"))
      t:assert_eq(f:read("a"), "")
      t:assert_eq(f:setvbuf("full", 1024), true)
      t:assert_eq(f:flush(), f)
      f:close()
    `);
    expect(readFileSync(join(dir, "m.txt"), "utf8")).toBe("01ab456789Z");
  });

  test("failures return nil, 'path: message', errno as in Lua; misuse raises at the caller's line", async () => {
    mkdirSync(join(dir, "adir"), { recursive: true });
    await expectPass(`
      local f, err, errno = io.open("missing/x.txt")
      t:assert_eq(f, nil)
      t:assert_eq(err, "missing/x.txt: No such file or directory")
      t:assert_eq(errno, 2)
      local d = assert(io.open("adir"))
      local v, rerr, rerrno = d:read("a")
      t:assert_eq({v, rerr, rerrno}, {nil, "Is a directory", 21})
      d:close()
      t:assert_eq({os.remove("gone.txt")}, {nil, "gone.txt: No such file or directory", 2})
      t:assert_eq({os.rename("gone.txt", "x")}, {nil, "gone.txt: No such file or directory", 2})
      t:assert_contains(t:assert_raises(function() io.open("x", "rw") end), "x.test.lua:" )
      t:assert_contains(t:assert_raises(function() io.open("x", "rw") end), 'io.open: invalid mode "rw"')
      local g = assert(io.open("in.txt"))
      g:close()
      t:assert_contains(t:assert_raises(function() g:read() end), "attempt to use a closed file")
      t:assert_contains(t:assert_raises(function() g.read("l") end), "needs a file")
      local h = assert(io.open("in.txt"))
      t:assert_contains(t:assert_raises(function() h:read("x") end), 'invalid read format "x"')
      t:assert_contains(t:assert_raises(function() h:seek("start") end), 'seek whence must be')
      t:assert_contains(t:assert_raises(function() h:write({}) end), "write argument #1 must be a string or a number, got table")
      h:close()
    `);
  });

  test("os.remove, os.rename and an empty directory, on the host", async () => {
    writeFileSync(join(dir, "r1"), "r");
    mkdirSync(join(dir, "emptydir"), { recursive: true });
    await expectPass(`
      t:assert_eq(os.rename("r1", "r2"), true)
      t:assert_eq(os.remove("r2"), true)
      t:assert_eq(os.remove("emptydir"), true)
    `);
    expect(existsSync(join(dir, "r1")) || existsSync(join(dir, "r2")) || existsSync(join(dir, "emptydir"))).toBe(false);
  });

  test("os.tmpname comes from the runner (its owned temp dir); io.tmpfile opens one", async () => {
    await expectPass(`
      local p = os.tmpname()
      t:assert_eq(p, "${join(dir, "tmp-" + (tmpCount + 1))}")
      local f = assert(io.open(p, "w"))
      f:write("tmp!"); f:close()
      local tf = io.tmpfile()
      tf:write("abc"); tf:seek("set")
      t:assert_eq(tf:read("a"), "abc")
      tf:close()
    `);
    expect(readFileSync(join(dir, `tmp-${tmpCount - 1}`), "utf8")).toBe("tmp!");
  });

  test("io.input/io.output/io.read/io.write; stdout goes to the log; stdin is empty", async () => {
    writeFileSync(join(dir, "def-in.txt"), "one\n2\n");
    const logs = await expectPass(`
      t:assert_eq(io.output(), io.stdout)
      io.write("to the log", 1, "\\n")
      io.stderr:write("err line")
      t:assert_eq({io.stdout:close()}, {nil, "cannot close standard file"})
      t:assert_eq(io.read(), nil)
      t:assert_eq({io.stdin:write("x")}, {nil, "Bad file descriptor", 9})
      io.input("def-in.txt")
      t:assert_eq(io.read("l", "n"), "one")
      t:assert_eq(select(2, io.read("l", "n")), nil)
      io.output("def-out.txt")
      io.write("a", "b")
      io.close()
      t:assert_contains(t:assert_raises(function() io.write("x") end), "default output file is closed")
      t:assert_contains(t:assert_raises(function() io.input("nope") end), "cannot open file 'nope' (No such file or directory)")
      io.output(io.stdout)
      t:assert_eq(os.getenv("HOME"), ${JSON.stringify(process.env.HOME)})
      t:assert_eq(os.getenv("PROVIUM_HOSTIO_UNSET"), nil)
    `);
    expect(logs).toEqual(["to the log1", "err line"]);
    expect(readFileSync(join(dir, "def-out.txt"), "utf8")).toBe("ab");
  });
});


describe("bytes across the host bridge", () => {
  test("a string starting with a UTF-8 BOM reaches the host whole (the decoder used to drop it)", async () => {
    const { calls, outcome } = await runLua(
      `test("x", function(t)
         local f = io.open("left-open.txt", "w") -- never closed: the engine closes it at the end
         t:assert_eq(f:write("still written"), f)
       end)
       test("y", function(t) __provium_private.call("echo", { data = "\\239\\187\\191A" }) end)`,
      { ...ops, echo: (a) => a.data },
      join(dir, "x.test.lua"),
    );
    expect(outcome("x")!.kind).toBe("test_passed");
    expect(outcome("y")!.kind).toBe("test_passed");
    expect(calls.find((c) => c.op === "echo")!.args.data).toBe("\uFEFFA");
    expect(readFileSync(join(dir, "left-open.txt"), "utf8")).toBe("still written");
  });
});

describe("loadfile and dofile", () => {
  test("read host files, relative to the caller; the chunk's errors and paths are its own", async () => {
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, "sub", "inner.txt"), "inner");
    writeFileSync(join(dir, "sub", "mod.lua"), `#!/usr/bin/env lua\nlocal f = assert(io.open("inner.txt"))\nlocal s = f:read("a")\nf:close()\nreturn s, ...`);
    writeFileSync(join(dir, "sub", "bad.lua"), `\nerror("from bad")`);
    writeFileSync(join(dir, "sub", "env.lua"), `return x`);
    await expectPass(`
      t:assert_eq(dofile("sub/mod.lua"), "inner")
      local chunk = assert(loadfile("sub/mod.lua"))
      t:assert_eq({chunk("arg")}, {"inner", "arg"})
      t:assert_eq(assert(loadfile("sub/env.lua", "t", {x = 5}))(), 5)
      t:assert_contains(t:assert_raises(function() dofile("sub/bad.lua") end), "sub/bad.lua:2: from bad")
      t:assert_eq({loadfile("sub/none.lua")}, {nil, "cannot open sub/none.lua: No such file or directory"})
      t:assert_contains(t:assert_raises(function() dofile("sub/none.lua") end), "cannot open sub/none.lua")
    `);
  });
});
