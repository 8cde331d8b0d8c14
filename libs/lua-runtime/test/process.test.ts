// The Lua side of processes, workers, tasks and barriers, against a fake host. The guest
// side is tested on real VMs in tests/commands.
import { describe, expect, test } from "bun:test";
import { runLua, type Ops } from "./harness";

// A fake agent: guest ops are recorded as "op" or "op@worker"; processes exit when waited.
function fakeHost(extra: Ops = {}) {
  let nextHandle = 100;
  let nextWorker = 1;
  const order: string[] = [];
  const ops: Ops = {
    "vm.create": () => 0,
    "vm.boot": () => null,
    "clock.now": () => performance.now() / 1000,
    "clock.sleep": ({ seconds }) => Bun.sleep(seconds * 1000),
    "guest.batch": ({ target, ops: items }) => items.map((it: any) => ({ ok: (ops.guest as any)({ target, op: it.op, args: it.args }) })),
    guest: ({ target, op, args }) => {
      order.push(target.worker ? `${op}@${target.worker}` : op);
      switch (op) {
        case "run":
          return { exit_code: 0, status: "exited", timed_out: false, stdout: "", stderr: "" };
        case "run_async":
          return { handle: nextHandle++, pid: 4242 };
        case "process_signal":
          return true;
        case "process_pid":
          return 4242;
        case "process_status":
          return "running";
        case "process_wait":
          if (args.timeout_ms === 1) return { exited: false };
          return { exited: true, result: { exit_code: 0, status: "exited", timed_out: false, stdout: "out", stderr: "" } };
        case "process_stream":
          return nextHandle++;
        case "worker_spawn":
          return nextWorker++;
        case "worker_join":
          return { done: true, worst: 3, reaped: 2, running: 0 };
        case "worker_kill":
          return 2;
        default:
          return true;
      }
    },
    ...extra,
  };
  return { ops, order };
}

const guestCalls = (calls: { op: string; args: any }[], op: string) => calls.filter((c) => c.op === "guest" && c.args.op === op).map((c) => c.args);

async function expectPass(src: string, extra: Ops = {}) {
  const host = fakeHost(extra);
  const r = await runLua(`local vm = provium:vm("v", "minimal"):boot()\n${src}`, host.ops);
  const failed = r.events.filter((e) => e.kind === "test_failed" || e.kind === "file_error");
  expect(failed.map((e) => e.reason)).toEqual([]);
  return { ...r, order: host.order };
}

describe("processes", () => {
  test("signals by name (any case, with or without sig) and number; kill defaults to SIGTERM", async () => {
    const { calls } = await expectPass(`test("x", function(t)
      local p = vm:run_async("sleep 100")
      p:kill(); p:kill(9); p:kill("kill"); p:kill("SIGUSR1"); p:signal("usr2"); p:kill("Term")
      for _, n in ipairs({"hup", "int", "quit", "stop", "cont", "alrm", "pipe", "chld", "winch"}) do p:kill(n) end
      t:assert_eq(p:pid(), 4242)
      t:assert_eq(p:handle(), 100)
      t:assert_eq(p:status(), "running")
    end)`);
    expect(guestCalls(calls, "process_signal").map((a) => a.args.signal)).toEqual([15, 9, 9, 10, 12, 15, 1, 2, 3, 19, 18, 14, 13, 17, 28]);
  });

  test("wait takes a duration, refuses 0, and raises once waited", async () => {
    const { calls } = await expectPass(`test("x", function(t)
      t:assert_eq(vm:run_async("a"):wait().stdout, "out")
      vm:run_async("b"):wait("5s")
      local p = vm:run_async("c")
      t:assert_eq(p:wait(0.5).exit_code, 0)
      t:assert_contains(t:assert_raises(function() p:wait() end), "x.test.lua:7: process was already waited (c)")
      local q = vm:run_async("d")
      t:assert_contains(t:assert_raises(function() q:wait(0) end), "x.test.lua:9: wait(0) would not wait at all (and would kill the process): use proc:status() to poll")
      t:assert_contains(t:assert_raises(function() q:wait(-1) end), "wait timeout must be a non-negative number of seconds, got -1")
      t:assert_contains(t:assert_raises(function() q:wait("soon") end), 'wait timeout "soon" is malformed')
      t:assert_contains(t:assert_raises(function() q:wait(0.001) end), "x.test.lua:12: process still running after wait's timeout (0.001 s) and a SIGKILL (d); wait again")
      q:wait()
    end)`);
    expect(guestCalls(calls, "process_wait").map((a) => a.args.timeout_ms)).toEqual([0, 5000, 500, 1, 0]);
  });

  test("bad input names the caller's line", async () => {
    const cases: [string, string][] = [
      [`vm:run_async(42)`, "command must be a string, got number (42)"],
      [`vm:run_async("x", {args = "y"})`, `args must be a table, got string ("y")`],
      [`vm:run_async("x", {timeout = 1})`, "run_async does not take timeout/timeout_ms (the process is not killed for you): use proc:wait(timeout)"],
      [`vm:run_async("x", {timeout_ms = 1})`, "run_async does not take timeout/timeout_ms"],
      [`vm:run_async("x"):kill("bogus")`, "unknown signal 'bogus' (known: term, kill, int, hup, quit, stop, cont, usr1, usr2, alrm, pipe, chld, winch, with or without 'sig', or a number)"],
      [`vm:run_async("x"):kill(0)`, "signal number must be an integer from 1 to 64, got 0"],
      [`vm:run_async("x"):kill(1.5)`, "signal number must be an integer from 1 to 64, got 1.5"],
      [`vm:run_async("x"):kill({})`, "signal must be a name or a number, got table"],
      [`vm:run_async("x"):stdin_write(5)`, "stdin data must be a string, got number (5)"],
      [`local p = vm:run_async("x"); p:close(); p:pid()`, "process is closed (x)"],
      [`local s = vm:run_async("x"):stdout_stream(); s:close(); s:read_until("y")`, `read_until "y" failed: the stream is closed (x stdout)`],
      [`local w = vm:spawn_worker(); w:close(); w:run("true")`, "worker is closed (v/worker1)"],
      [`vm:spawn_worker({bogus = 1})`, "unknown spawn_worker option 'bogus' (known: name)"],
      [`provium:barrier("b", 0)`, "barrier count must be a positive integer, got 0"],
      [`provium:barrier("b", 2, "later")`, `barrier timeout "later" is malformed`],
      [`provium:spawn("not a function")`, `spawn body must be a function, got string ("not a function")`],
    ];
    for (const [code, msg] of cases) {
      const { outcome } = await runLua(`local vm = provium:vm("v", "minimal")\ntest("x", function(t)\n${code}\nend)`, fakeHost().ops);
      expect(outcome("x")!.reason).toContain(`t/x.test.lua:3: ${msg}`);
    }
  });

  test("streams: one per output, the same object each time; run_async works in a batch", async () => {
    const { calls } = await expectPass(`test("x", function(t)
      local p = vm:run_async("srv", {args = {"-v"}, env = {A = "1"}, cwd = "/tmp", stdin = "in"})
      t:assert_eq(p:stdout_stream(), p:stdout_stream())
      t:assert_neq(p:stdout_stream(), p:stderr_stream())
      p:stdin_write("a\\0\\255")
      p:close_stdin()
      local rs = vm:batch(function(b) b:run_async("one"); b:run("two") end)
      t:assert_eq(getmetatable(rs[1].ok), getmetatable(p))
      t:assert_eq(rs[2].ok.exit_code, 0)
    end)`);
    expect(guestCalls(calls, "run_async")[0].args.cmd).toEqual({ argv: ["srv", "-v"], env: [{ name: "A", value: "1" }], cwd: "/tmp", stdin: "in" });
    expect(guestCalls(calls, "process_stream").map((a) => a.args.stderr)).toEqual([false, true]);
    expect(guestCalls(calls, "process_stdin_write")[0].args.data).toEqual(new Uint8Array([97, 0, 255]));
  });
});

describe("scopes", () => {
  test("a test's processes, then streams, then workers close, whatever the creation order", async () => {
    const { order } = await expectPass(`
      local top = vm:run_async("top-level server")
      test("a", function(t)
        local w = vm:spawn_worker()
        local s1 = vm:run_async("x"):stdout_stream()
        local p1 = w:run_async("y")
        local s2 = p1:stderr_stream()
        local p2 = vm:run_async("z")
      end)
      test("b", function(t) top:pid() end)`);
    const end = order.slice(order.lastIndexOf("process_stream@1") + 1);
    expect(end).toEqual([
      "run_async", // p2
      "process_close", // p2 (newest process first)
      "process_close@1", // p1
      "process_close", // x
      "stream_close@1", // s2
      "stream_close", // s1
      "worker_close@1",
      "process_pid", // test b: the top-level process still lives
      "process_close", // closed when the file ends
    ]);
  });
});

describe("workers", () => {
  test("a worker has the VM's guest ops (also ones defined later), kill, join, handle, close", async () => {
    const { calls, order } = await expectPass(`test("x", function(t)
      local P = __provium_private
      local w = vm:spawn_worker({name = "w1"})
      P.define_guest_op("late_op", function() return {} end)
      t:assert(w.late_op ~= nil and w.run ~= nil and w.run_async ~= nil and w.batch ~= nil)
      w:run("true")
      w:run_async("sleep 1"):wait()
      t:assert_eq(w:kill(), 2)
      w:kill("int")
      t:assert_eq(w:join(), 3)
      t:assert_contains(t:assert_raises(function() w:join("1s") end), "x.test.lua:12: worker w1 was already joined: join returns its result once")
      t:assert_contains(t:assert_raises(function() w:run("true") end), "x.test.lua:13: worker w1 was joined: it takes no more work (run); spawn another worker")
      t:assert_contains(t:assert_raises(function() w:batch(function() end) end), "worker w1 was joined: it takes no more work (batch)")
      vm:spawn_worker():join("1s")
      t:assert_eq(w:handle(), 1)
      w:close(); w:close()
      t:assert_eq(w:handle(), 1)
      t:assert_eq(tostring(w), "Worker(w1, closed)")
    end)`);
    expect(order.filter((o) => o.endsWith("@1"))).toEqual(["run@1", "run_async@1", "process_wait@1", "worker_kill@1", "worker_kill@1", "worker_join@1", "worker_close@1"]);
    expect(guestCalls(calls, "worker_kill").map((a) => a.args.signal)).toEqual([15, 2]);
    expect(guestCalls(calls, "worker_join").map((a) => a.args.timeout_ms)).toEqual([0, 1000]);
  });
});

describe("tasks and barriers", () => {
  const barrierHost = () => {
    const waiting = new Map<string, { n: number; wake: (() => void)[] }>();
    return {
      "lab.barrier": ({ name, count, timeout }: any) =>
        new Promise<void>((resolve, reject) => {
          const b = waiting.get(name) ?? { n: 0, wake: [] };
          waiting.set(name, b);
          b.n++;
          b.wake.push(resolve);
          if (b.n === count) {
            waiting.delete(name);
            b.wake.forEach((w) => w());
          } else setTimeout(() => reject(new Error(`barrier '${name}' timed out after ${timeout} s: ${b.n} of ${count} parties arrived`)), timeout * 1000);
        }),
    };
  };

  test("tasks run concurrently: host calls inside them do not block each other", async () => {
    const t0 = performance.now();
    await expectPass(`test("x", function(t)
      local started = os.clock()
      local tasks = {}
      for i = 1, 4 do
        tasks[i] = provium:spawn(function(n)
          -- also from a coroutine of the task's own, and a pcall
          local co = coroutine.wrap(function() P_sleep(0.3) end)
          co()
          pcall(P_sleep, 0.01)
          return n * 10, "r" .. n
        end, i)
      end
      for i = 1, 4 do
        local a, b = tasks[i]:join()
        t:assert_eq(a, i * 10)
        t:assert_eq(b, "r" .. i)
        t:assert(tasks[i]:done())
      end
    end)`.replace("test(", "function P_sleep(s) __provium_private.call('clock.sleep', {seconds = s}) end\ntest("));
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  test("join re-raises a task's error; an unjoined failed task fails the test; a failed test abandons its tasks", async () => {
    const host = fakeHost();
    const { outcome } = await runLua(
      `test("joined", function(t)
        local task = provium:spawn(function() error("task broke") end)
        local e = t:assert_raises(function() task:join() end)
        t:assert_contains(e, "x.test.lua:2: task broke")
      end)
      test("unjoined", function(t)
        provium:spawn(function() __provium_private.call("clock.sleep", {seconds = 0.01}); error("late failure", 0) end)
      end)
      test("abandoned", function(t)
        provium:spawn(function() __provium_private.call("clock.sleep", {seconds = 100}) end)
        error("the test itself fails", 0)
      end)
      test("deadlock", function(t)
        local a, b
        a = provium:spawn(function() __provium_private.call("clock.sleep", {seconds = 0.01}); b:join() end)
        b = provium:spawn(function() __provium_private.call("clock.sleep", {seconds = 0.01}); a:join() end)
        a:join()
      end)
      test("after", function(t) t:assert(true) end)`,
      host.ops,
    );
    expect(outcome("joined")!.kind).toBe("test_passed");
    expect(outcome("unjoined")!.reason).toContain("a task spawned at t/x.test.lua:7 failed and was never joined: late failure");
    expect(outcome("abandoned")!.reason).toBe("the test itself fails");
    expect(outcome("deadlock")!.reason).toContain("deadlock: every task waits for another task");
    expect(outcome("after")!.kind).toBe("test_passed");
  });

  test("barriers: tasks and the test meet; a host call in a C callback inside a task still works", async () => {
    const { calls } = await expectPass(
      `test("x", function(t)
        local log = {}
        local a = provium:spawn(function()
          log[#log + 1] = "a before"
          provium:barrier("b", 3)
          log[#log + 1] = "a after"
          local xs = {3, 1, 2}
          table.sort(xs, function(p, q) vm:run("true"); return p < q end)
          return xs
        end)
        local b = provium:spawn(function()
          log[#log + 1] = "b before"
          provium:barrier("b", 3, "5s")
          log[#log + 1] = "b after"
        end)
        provium:barrier("b", 3)
        t:assert_eq(a:join(), {1, 2, 3})
        b:join()
        t:assert_eq(log[1], "a before")
        t:assert_eq(log[2], "b before")
        provium:barrier("alone", 1)
      end)`,
      barrierHost(),
    );
    expect(calls.filter((c) => c.op === "lab.barrier").map((c) => [c.args.name, c.args.count, c.args.timeout])).toEqual([
      ["b", 3, 60],
      ["b", 3, 5],
      ["b", 3, 60],
      ["alone", 1, 60],
    ]);
  });

  test("a barrier timeout raises naming the barrier and how many arrived", async () => {
    const { outcome } = await runLua(`test("x", function(t) provium:barrier("meet", 2, 0.2) end)`, { ...fakeHost().ops, ...barrierHost() });
    expect(outcome("x")!.reason).toBe("t/x.test.lua:1: barrier 'meet' timed out after 0.2 s: 1 of 2 parties arrived");
  });
});
