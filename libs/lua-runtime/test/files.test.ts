// The Lua side of guest files against a fake host: argument checks (naming the caller's
// line), what each op sends, File objects and their lifetime, tails and raw calls.
import { describe, expect, test } from "bun:test";
import { runLua } from "./harness";

// A fake host that answers guest ops from `answers` (by op name) and records them.
function fakeHost(answers: Record<string, (args: any) => unknown> = {}) {
  return {
    "vm.create": () => 0,
    "vm.boot": () => null,
    "clock.now": () => performance.now() / 1000,
    guest: (a: any) => {
      const f = answers[a.op];
      if (!f) throw new Error(`unexpected guest op ${a.op}`);
      return f(a.args);
    },
  };
}

const guestCalls = (calls: { op: string; args: any }[], op?: string) =>
  calls.filter((c) => c.op === "guest" && (!op || c.args.op === op)).map((c) => c.args.args);

describe("whole-file ops", () => {
  test("arguments as sent; push_file resolves against the calling file's directory", async () => {
    const { calls, outcome } = await runLua(
      `local vm = provium:vm("v", "minimal")
       test("x", function(t)
         vm:write_file("/tmp/a", "x\\0y")
         vm:push_file("../bin/tool", "/usr/bin/tool")
         vm:push_file("/abs/file", "/f", {auto_dep = false})
         vm:stat("/l", {follow = true})
         vm:mkdir("/d/e", {parents = true, perm = 0x1c0})
         vm:rename("/a", "/b")
       end)`,
      fakeHost({ write_file: () => true, push_file: () => true, stat: () => ({}), mkdir: () => true, rename: () => true }),
      "suite/dir/x.test.lua",
    );
    expect(outcome("x")!.kind).toBe("test_passed");
    const sent = guestCalls(calls);
    expect(sent[0]).toEqual({ path: "/tmp/a", data: "x\0y" });
    expect(sent[1]).toEqual({ host: "../bin/tool", guest: "/usr/bin/tool", base: "suite/dir" });
    expect(sent[2]).toEqual({ host: "/abs/file", guest: "/f", base: "suite/dir", auto_dep: false });
    expect(sent[3]).toEqual({ path: "/l", follow: true });
    expect(sent[4]).toEqual({ path: "/d/e", parents: true, perm: 0x1c0 });
    expect(sent[5]).toEqual({ from: "/a", to: "/b" });
  });

  test("bad arguments name the caller's line", async () => {
    const cases: [string, string][] = [
      [`vm:read_file(nil)`, "path must be a string, got nil"],
      [`vm:read_file("")`, "path must not be empty"],
      [`vm:write_file("/x", 1)`, "data must be a string, got number (1)"],
      [`vm:stat("/x", {follw = true})`, "unknown stat option key 'follw' (known: follow)"],
      [`vm:mkdir("/x", {perm = "0700"})`, `perm must be an integer from 0 to 4095 (0o7777), got "0700"`],
      [`vm:mkdir("/x", {parents = 1})`, "parents must be a boolean, got number"],
      [`vm:push_file("a", "")`, "guest path must not be empty"],
      [`vm:open_file("/x", {})`, "open_file mode needs at least one of read, write, append"],
      [`vm:open_file("/x", {write = true, exclusive = true})`, "mode.exclusive needs create = true"],
      [`vm:tail_file("/x", {start = 1.5})`, `start must be "end", "beginning", "start" or a byte offset (negative: from the end), got 1.5`],
      [`vm:fd_stream("3")`, `fd_stream argument must be a File or a file descriptor (integer), got "3"`],
      [`vm:syscall(1.5)`, "syscall number must be an integer, got 1.5"],
      [`vm:syscall(1, {{buf = 1}})`, "args[1] = {buf = i} needs 1 <= i <= 0, got 1"],
      [`vm:syscall(1, {1.5})`, "args[1] must be an integer, a string, a File or {buf = i}, got 1.5"],
      [`vm:syscall(1, {}, {true})`, "bufs[1] must be a string (bytes), a size or {data = ..., size = ...}, got true"],
      [`vm:ioctl(3, 0x5401, true)`, "ioctl data must be an integer, bytes (a string) or {size = n}, got true"],
    ];
    for (const [code, msg] of cases) {
      const { outcome } = await runLua(`local vm = provium:vm("v", "minimal")\ntest("x", function(t)\n${code}\nend)`, fakeHost());
      expect(outcome("x")!.reason).toBe(`t/x.test.lua:3: ${msg}`);
    }
  });

  test("every file op is available in vm:batch", async () => {
    const { calls, outcome } = await runLua(
      `local vm = provium:vm("v", "minimal")
       test("x", function(t)
         local r = vm:batch(function(b)
           b:write_file("/a", "1") b:read_file("/a") b:push_file("f", "/f") b:stat("/a") b:listdir("/")
           b:mkdir("/d") b:unlink("/a") b:rename("/b", "/c") b:open_file("/a", {read = true})
           b:tail_file("/log") b:fd_stream(3) b:syscall(39) b:ioctl(0, 1)
         end)
         t:assert_eq(#r, 13)
         t:assert_eq(tostring(r[9].ok), "File(/a)")
         t:assert_eq(tostring(r[10].ok), "Stream(tail /log)")
       end)`,
      {
        ...fakeHost(),
        "guest.batch": (a: any) =>
          a.ops.map((o: any) => ({
            ok: o.op === "open_file" ? { handle: 1, fd: 5, path: "/a" } : o.op === "tail_file" ? { handle: 2, label: "tail /log" } : o.op === "fd_stream" ? { handle: 3, label: "fd 3" } : true,
          })),
        guest: () => true,
      },
    );
    expect(outcome("x")!.kind).toBe("test_passed");
    expect(calls.find((c) => c.op === "guest.batch")!.args.ops.map((o: any) => o.op)).toEqual([
      "write_file", "read_file", "push_file", "stat", "listdir", "mkdir", "unlink", "rename", "open_file", "tail_file", "fd_stream", "syscall", "ioctl",
    ]);
  });
});

describe("File objects", () => {
  const opened = { handle: 7, fd: 12, path: "/tmp/f" };

  test("read/write/seek/tell go to the handle; closed at scope end; use after close raises", async () => {
    let pieces = 0; // read_all asks until the agent says eof
    const { calls, outcome } = await runLua(
      `local vm = provium:vm("v", "minimal")
       local kept
       test("x", function(t)
         local h = vm:open_file("/tmp/f", {read = true, write = true, perm = 0x180})
         kept = h
         t:assert_eq(h:fd(), 12)
         t:assert_eq(h:read(4), "data")
         t:assert_eq(h:read(0), "")
         t:assert_eq(h:write("abc"), 3)
         t:assert_eq(h:seek(-1, "end"), 99)
         t:assert_eq(h:seek(5), 99)
         t:assert_eq(h:tell(), 99)
         t:assert_eq(h:read_all(), "part1part2")
       end)
       test("y", function(t)
         t:assert_eq(kept:fd(), 0)
         local e = t:assert_raises(function() kept:write("x") end)
         t:assert_eq(e, "t/x.test.lua:17: file is closed (/tmp/f)")
         kept:close()
       end)`,
      fakeHost({
        open_file: () => opened,
        file_read: (a) => (a.all ? { data: `part${++pieces}`, eof: pieces === 2 } : { data: "data", eof: false }),
        file_write: (a) => a.data.length,
        file_seek: () => 99,
        file_close: () => true,
      }),
    );
    expect(outcome("x")!.kind).toBe("test_passed");
    expect(outcome("y")!.kind).toBe("test_passed");
    expect(guestCalls(calls, "open_file")[0]).toEqual({ path: "/tmp/f", mode: { read: true, write: true, perm: 0x180 } });
    expect(guestCalls(calls, "file_seek")).toEqual([
      { handle: 7, path: "/tmp/f", offset: -1, whence: "end" },
      { handle: 7, path: "/tmp/f", offset: 5, whence: "set" },
      { handle: 7, path: "/tmp/f", offset: 0, whence: "cur" },
    ]);
    // closed once, at the end of test "x"; the explicit second close sends nothing
    expect(guestCalls(calls, "file_close")).toEqual([{ handle: 7, path: "/tmp/f" }]);
  });

  test("tail_stream and fd_stream take the File's descriptor; ioctl and syscall accept a File", async () => {
    const { calls, outcome } = await runLua(
      `local vm = provium:vm("v", "minimal")
       test("x", function(t)
         local h = vm:open_file("/tmp/f", {read = true})
         t:assert_eq(tostring(h:tail_stream()), "Stream(tail /tmp/f)")
         vm:fd_stream(h)
         vm:ioctl(h, 0x541B, "\\0\\0\\0\\0", {{offset = 0, data = 8}})
         vm:syscall(0, {h, {buf = 1}, "path"}, {16}, {{buf = 1, offset = 8, target = 1}})
       end)`,
      fakeHost({ open_file: () => opened, fd_stream: () => ({ handle: 3, label: "fd 12" }), ioctl: () => ({}), syscall: () => ({}), file_close: () => true, stream_close: () => true }),
    );
    expect(outcome("x")!.kind).toBe("test_passed");
    expect(guestCalls(calls, "fd_stream")).toEqual([{ fd: 12 }, { fd: 12 }]);
    expect(guestCalls(calls, "ioctl")[0]).toEqual({ fd: 12, cmd: 0x541b, data: "\0\0\0\0", ptrs: [{ offset: 0, data: 8 }] });
    expect(guestCalls(calls, "syscall")[0]).toEqual({ nr: 0, args: [12, { buf: 1 }, "path"], bufs: [16], ptrs: [{ buf: 1, offset: 8, target: 1 }] });
  });

  test("tail_file start values", async () => {
    const { calls } = await runLua(
      `local vm = provium:vm("v", "minimal")
       for _, s in ipairs({"end", "beginning", "start", 42, -5, math.mininteger}) do vm:tail_file("/log", {start = s}) end
       vm:tail_file("/log")`,
      fakeHost({ tail_file: () => ({ handle: 1, label: "tail /log" }), stream_close: () => true }),
    );
    // from_end: `start` counts bytes back from the end ("end" is 0 back)
    expect(guestCalls(calls, "tail_file").map((a) => [a.from_end, a.start])).toEqual([
      [true, 0], [false, 0], [false, 0], [false, 42], [true, 5], [true, 2 ** 53 - 1], [true, 0],
    ]);
  });
});
