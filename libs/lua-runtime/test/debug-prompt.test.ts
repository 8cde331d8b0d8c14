// --debug's prompt in the Lua half, against a fake host: a failed test opens it before its
// scope closes (its VMs still there), lines run in an environment with `vm`, `lab`, `t` and the
// file's VMs by name, .continue goes on, .stop ends the file's tests. The real run (a pipe, a
// live guest) is apps/cli/test/debug.test.ts.
import { expect, test } from "bun:test";
import { runLua, type Ops } from "./harness";

function prompt(lines: string[], extra: Ops = {}) {
  const written: string[] = [];
  const ops: Ops = {
    "test.failing": () => ({ debug: true, vm: 1 }),
    "debug.read": () => lines.shift() ?? null,
    "debug.write": ({ text }) => (written.push(text), true),
    "vm.create": ({ name }) => (name === "box" ? 1 : 0),
    "vm.dispose": () => true,
    ...extra,
  };
  return { ops, written };
}

const source = `
local web = provium:vm("web", "minimal")
test("fails", function(t)
  local box = provium:vm("box", "minimal")
  t:assert_eq(1, 2, "one is two")
end)
test("after", function(t) end)
`;

test("a failure opens the prompt on the test's VMs; .continue goes on", async () => {
  const { ops, written } = prompt(["vm:name()", "web:name(), box:name()", "lab:vm_names()", "t.name", "print('hi', 42)", "nope(", ".continue"]);
  const { events, calls, outcome } = await runLua(source, ops);
  const out = written.join("");
  expect(out).toContain('--- test "fails" failed:\nt/x.test.lua:5: one is two: expected 2, got 1\nstack traceback:\n\tt/x.test.lua:5: in function');
  expect(out).toContain("`vm` is box; `lab` is the file's lab, its VMs by name: box, web.");
  expect(out).toContain('"box"\n"web"\t"box"\n{"box", "web"}\n"fails"\nhi\t42\n');
  expect(out).toContain("unexpected symbol near <eof>");
  // the prompt ran before the test's VM was disposed, and the test is still reported failed
  const order = calls.map((c) => c.op).filter((op) => op === "debug.read" || op === "vm.dispose");
  expect(order.indexOf("vm.dispose")).toBeGreaterThan(order.lastIndexOf("debug.read"));
  expect(outcome("fails")!.kind).toBe("test_failed");
  expect(outcome("after")!.kind).toBe("test_passed");
  expect(events.filter((e) => e.kind === "file_error")).toEqual([]);
});

test(".stop ends the file's tests after the failed one; the end of input is .continue", async () => {
  const stopped = await runLua(source, prompt([".stop"]).ops);
  expect(stopped.outcome("fails")!.kind).toBe("test_failed");
  expect(stopped.outcome("after")).toBeUndefined();
  const ended = await runLua(source, prompt([]).ops);
  expect(ended.outcome("after")!.kind).toBe("test_passed");
});

test("without --debug no prompt opens", async () => {
  const { ops, written } = prompt(["vm:name()"], { "test.failing": () => ({ debug: false, vm: null }) });
  const { outcome } = await runLua(source, ops);
  expect(written).toEqual([]);
  expect(outcome("fails")!.kind).toBe("test_failed");
});
