import { describe, expect, test } from "bun:test";
import { runLua } from "./harness";

describe("tests and assertions", () => {
  test("passing, failing and skipped tests are reported in order", async () => {
    const { events } = await runLua(`
      test("a", function(t) t:assert_eq(1 + 1, 2) end)
      test("b", {tags = {"x"}}, function(t) t:assert_eq({1, {2}}, {1, {3}}) end)
      test("c", function(t) t:skip("not today") end)
    `);
    const outcomes = events.filter((e) => e.kind.startsWith("test_") && e.kind !== "test_started").map((e) => [e.kind, e.test]);
    expect(outcomes).toEqual([["test_passed", "a"], ["test_failed", "b"], ["test_skipped", "c"]]);
    const b = events.find((e) => e.kind === "test_failed")!;
    expect(b.reason).toBe(`t/x.test.lua:3: expected {1, {3}}, got {1, {2}}`);
    expect(b.meta).toEqual({ tags: ["x"] });
    expect(b.traceback).toContain("t/x.test.lua:3");
  });

  test("each assertion fails with file:line and its message", async () => {
    const cases: [string, RegExp][] = [
      [`t:assert(false, "why")`, /:2: assertion failed: why$/],
      [`t:assert_neq(1, 1)`, /:2: expected a value other than 1$/],
      [`t:assert_contains("hello", "xyz")`, /:2: "hello" does not contain "xyz"$/],
      [`t:assert_contains({1, 2}, 3, "list")`, /:2: list: \{1, 2\} does not contain 3$/],
      [`t:assert_raises(function() end)`, /:2: expected an error, none was raised$/],
      [`t:fail("boom")`, /:2: failed: boom$/],
      [`error("plain lua error")`, /:2: plain lua error$/],
    ];
    for (const [body, re] of cases) {
      const { outcome } = await runLua(`test("x", function(t)\n${body}\nend)`);
      expect(outcome("x")!.kind).toBe("test_failed");
      expect(outcome("x")!.reason).toMatch(re);
    }
  });

  test("assert_raises returns the error; passing assertions pass", async () => {
    const { outcome } = await runLua(`test("x", function(t)
      local e = t:assert_raises(function() error("inner", 0) end)
      t:assert_eq(e, "inner")
      t:assert_contains("hello", "ell")
      t:assert_neq(1, 2)
      t:assert(true)
    end)`);
    expect(outcome("x")!.kind).toBe("test_passed");
  });

  test("a syntax error names file:line and fails the file", async () => {
    const { events } = await runLua(`test("x", function(t)\n  local = 1\nend)`, {}, "dir/broken.test.lua");
    expect(events[0]!.kind).toBe("file_error");
    expect(events[0]!.reason).toMatch(/^dir\/broken\.test\.lua:2: /);
  });

  test("a runtime error at top level fails the file with a traceback", async () => {
    const { events } = await runLua(`local x = nil\nx.y = 1`);
    expect(events[0]!.kind).toBe("file_error");
    expect(events[0]!.reason).toMatch(/t\/x\.test\.lua:2: attempt to index a nil value/);
  });

  test("print and t:log become log events", async () => {
    const { events } = await runLua(`print("top", 1)\ntest("x", function(t) t:log("inside") end)`);
    expect(events.filter((e) => e.kind === "log").map((e) => e.message)).toEqual(["top\t1", "inside"]);
  });

  test("bad test() arguments are clear errors", async () => {
    const { events } = await runLua(`test(42, function() end)`);
    expect(events[0]!.reason).toBe("t/x.test.lua:1: test name must be a string, got number (42)");
  });

  test("todo() skips every test of the file with its reason", async () => {
    const { events } = await runLua(`todo("waiting on kernel fix")\ntest("x", function(t) t:fail("ran") end)`);
    expect(events.map((e) => [e.kind, e.reason])).toEqual([["test_skipped", "todo: waiting on kernel fix"]]);
  });
});

describe("vm API against a fake host", () => {
  const fakeVm = (runResult: Record<string, unknown>) => ({
    "vm.create": () => 0,
    "vm.boot": () => null,
    guest: () => runResult,
  });

  test("run sends shell form and shapes a RunResult; bytes survive", async () => {
    const { calls, outcome } = await runLua(
      `local vm = provium:vm("v", "minimal"):boot()
       test("x", function(t)
         local r = vm:run("echo hi")
         t:assert_eq(r.stdout, "a\\0b\\xff")
         t:assert_eq(#r.stdout, 4)
         t:assert(r:ok())
         r:assert_ok()
         t:assert_eq(provium.v, vm)
         t:assert_eq(provium:vm("v"), vm)
       end)`,
      fakeVm({ exit_code: 0, status: "exited", timed_out: false, stdout: new Uint8Array([97, 0, 98, 255]), stderr: "" }),
    );
    expect(outcome("x")!.kind).toBe("test_passed");
    expect(calls.find((c) => c.op === "guest")!.args.args.cmd).toEqual({ argv: ["/bin/sh", "-c", "echo hi"] });
  });

  test("command shapes: direct exec, legacy array, options with the shell form", async () => {
    const { calls } = await runLua(
      `local vm = provium:vm("v", "minimal")
       vm:run("echo", {args = {"a b", 3}})
       vm:run("echo", {"x", "y"})
       vm:run("printenv FOO", {env = {FOO = "bar"}, env_clear = true, cwd = "/tmp", stdin = "in\\0", timeout = "500ms"})
       vm:run("sleep 1", {timeout_ms = 1500})`,
      fakeVm({ exit_code: 0, status: "exited", stdout: "", stderr: "" }),
    );
    const cmds = calls.filter((c) => c.op === "guest").map((c) => c.args.args.cmd);
    expect(cmds[0]).toEqual({ argv: ["echo", "a b", "3"] });
    expect(cmds[1]).toEqual({ argv: ["echo", "x", "y"] });
    expect(cmds[2]).toEqual({ argv: ["/bin/sh", "-c", "printenv FOO"], env: [{ name: "FOO", value: "bar" }], env_clear: true, cwd: "/tmp", stdin: "in\0", timeout_ms: 500 });
    expect(cmds[3].timeout_ms).toBe(1500);
  });

  test("assert_ok names the status, output and signal", async () => {
    const { outcome } = await runLua(
      `local vm = provium:vm("v", "minimal")
       test("x", function(t) vm:run("x"):assert_ok() end)`,
      fakeVm({ exit_code: -1, status: "signalled", signal: 15, timed_out: false, stdout: "so", stderr: "se" }),
    );
    expect(outcome("x")!.reason).toBe(`t/x.test.lua:2: command failed (status signalled, killed by SIGTERM)\nstdout: "so"\nstderr: "se"`);
  });

  test("wrong argument types name the caller's line", async () => {
    const cases: [string, string][] = [
      [`vm:run(42)`, "command must be a string, got number (42)"],
      [`vm:run("echo", {args = "x"})`, `args must be a table, got string ("x")`],
      [`vm:run("echo", {bogus = 1})`, "unknown option 'bogus' (known: args, env, env_clear, cwd, stdin, timeout, timeout_ms)"],
      [`vm:run("echo", {timeout = "5 parsecs"})`, `timeout "5 parsecs" is malformed: use seconds or a string like "500ms", "5s", "1m", "2h"`],
      [`vm:run("echo", {timeout = -1})`, "timeout must be a non-negative number of seconds, got -1"],
      [`vm:run("echo", {timeout = 1, timeout_ms = 5})`, "give timeout or timeout_ms, not both"],
      [`provium:vm("nope")`, "no vm named nope"],
      [`provium:vm("v", "minimal")`, `provium:vm("v", ...): name 'v' is already declared at the file's top level (lab provium, a vm); pick another name, or use provium:vm("v") to reuse it`],
    ];
    for (const [code, msg] of cases) {
      const { outcome } = await runLua(`local vm = provium:vm("v", "minimal")\ntest("x", function(t)\n${code}\nend)`, fakeVm({}));
      expect(outcome("x")!.reason).toBe(`t/x.test.lua:3: ${msg}`);
    }
  });

  test("host errors are raised at the caller's line, inside pcall, coroutines and metamethods", async () => {
    const { outcome } = await runLua(
      `local vm = provium:vm("v", "minimal")
       test("x", function(t)
         local ok, err = pcall(vm.run, vm, "true")
         t:assert(not ok)
         t:assert_contains(err, "VM not booted")
         local co = coroutine.wrap(function() return vm:run("true") end)
         t:assert_raises(co)
         local mt = setmetatable({}, {__index = function(_, k) return vm:run(k).exit_code end})
         t:assert_raises(function() return mt.foo end)
         local list = {3, 1, 2}
         table.sort(list, function(a, b) local _ = pcall(vm.run, vm, "x"); return a < b end)
         t:assert_eq(list, {1, 2, 3})
         vm:run("true")
       end)`,
      { "vm.create": () => 0, guest: () => { throw new Error("VM not booted: call v:boot() first"); } },
    );
    expect(outcome("x")!.reason).toBe("t/x.test.lua:13: VM not booted: call v:boot() first");
  });
});

describe("json and wait_until", () => {
  const clock = () => {
    let now = 0;
    return { "clock.now": () => now, "clock.sleep": ({ seconds }: any) => void (now += seconds) };
  };

  test("json round-trips values and rejects malformed input with its position", async () => {
    const { outcome } = await runLua(`test("x", function(t)
      local v = json.decode('{"a": [1, 2.5, "s\\\\n\\\\u00e9"], "b": {"c": null, "d": true}, "e": []}')
      t:assert_eq(v.a, {1, 2.5, "s\\né"})
      t:assert_eq(v.b.c, json.null)
      t:assert_eq(json.encode(v.e), "[]")
      t:assert_eq(json.encode({z = 1, a = {true, false}}), '{"a":[true,false],"z":1}')
      t:assert_eq(json.decode(json.encode({1, "two", {x = 3}})), {1, "two", {x = 3}})
      local e = t:assert_raises(function() json.decode('{"a": }') end)
      t:assert_contains(e, "json.decode: unexpected '}' at byte 7")
      t:assert_contains(t:assert_raises(function() json.encode(function() end) end), "cannot encode a function")
    end)`);
    expect(outcome("x")!.reason).toBeUndefined();
    expect(outcome("x")!.kind).toBe("test_passed");
  });

  test("wait_until returns the truthy value, times out with desc, passes errors through", async () => {
    const { outcome } = await runLua(
      `test("x", function(t)
        local n = 0
        t:assert_eq(wait_until(function() n = n + 1; return n >= 3 and "done" end, {interval = "10ms"}), "done")
        local e = t:assert_raises(function() wait_until(function() return false end, {timeout = 1, interval = 0.25, desc = "port open"}) end)
        t:assert_contains(e, "wait_until timed out after 1 s (5 tries): port open")
        local e2 = t:assert_raises(function() wait_until(function() error("pred broke", 0) end) end)
        t:assert_eq(e2, "pred broke")
      end)`,
      clock(),
    );
    expect(outcome("x")!.reason).toBeUndefined();
  });
});
