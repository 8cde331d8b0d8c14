// The static scan that finds a fixture builder's dependencies (its cache key) reads Lua, not text.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { literalCalls } from "../src/lua-scan";
import { fixtureKey, type KeyContext } from "../src/fixture-key";

describe("fixture key scan", () => {
  const NAMES = new Set(["require", "vm_fixture", "lab_fixture", "push_file", "depends_on_file"]);
  const scan = (src: string) => literalCalls(src, "b.fixture.lua", NAMES).map((c) => [c.fn, c.arg, c.line, c.autoDep]);

  test("comments, strings and long brackets that mention calls are not calls", () => {
    expect(
      scan(`-- provium:vm_fixture("c1")
--[[ vm_fixture("c2")
     push_file("c3", "/x") ]]
--[==[ lab_fixture("c4") ]] still inside ]==]
local s = "vm_fixture('s1')" .. 'require("s2")'
local l = [[push_file("s3", "/g")]] .. [=[depends_on_file("s4")]=]
local vm = provium:vm_fixture("real") -- vm_fixture("c5")`),
    ).toEqual([["vm_fixture", "real", 7, true]]);
  });

  test("method, dot and string-call forms; non-literal arguments are skipped; auto_dep = false is honoured", () => {
    expect(
      scan(`local h = require "h1"
local h2 = require("h2")
local a = provium:vm_fixture("m")
local b = provium.vm_fixture("d")
local c = lab:lab_fixture 'l'
vm:push_file("f1", "/g")
vm:push_file("f2", "/g", {auto_dep = false})
vm:push_file([[f3]], "/g", {auto_dep = true})
vm.push_file(vm, "f4", "/g")
lab:depends_on_file("dep")
vm:push_file(name, "/g")
vm:push_file("x" .. name, "/g")
provium:vm_fixture(("n"):rep(2))
require("\\104\\101\\108\\112")`),
    ).toEqual([
      ["require", "h1", 1, true],
      ["require", "h2", 2, true],
      ["vm_fixture", "m", 3, true],
      ["vm_fixture", "d", 4, true],
      ["lab_fixture", "l", 5, true],
      ["push_file", "f1", 6, true],
      ["push_file", "f2", 7, false],
      ["push_file", "f3", 8, true],
      ["push_file", "f4", 9, true],
      ["depends_on_file", "dep", 10, true],
      ["require", "help", 14, true],
    ]);
  });

  test("Lua 5.4 local attributes scan, lines unchanged; a file that does not parse names its file:line", () => {
    expect(
      scan(`local x <const> = 1
local f <close>, y <const> = nil, 2
local z<const>=3
provium:vm_fixture("after")`),
    ).toEqual([["vm_fixture", "after", 4, true]]);
    expect(() => scan(`local vm = provium:vm("a", "minimal")\n\nlocal x = = 1`)).toThrow(/^b\.fixture\.lua:3: does not parse as Lua, so its dependencies cannot be found: /);
  });

  test("a builder whose comment and string name itself is no cycle", () => {
    const dir = mkdtempSync(join(tmpdir(), "provium-fxkey-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "base.fixture.lua"), `-- resumed with provium:vm_fixture("base")
local doc = 'provium:vm_fixture("base")'
return nil`);
    const ctx: KeyContext = { config: { file: null, dir, roots: [dir], profiles: {} }, agent: "agent", defaultKernel: "kernel" };
    expect(fixtureKey(join(dir, "base.fixture.lua"), ctx).deps).toEqual([join(dir, "base.fixture.lua")]);
  });

  test("one fixture has one key in checkouts at different paths; a changed helper changes it", () => {
    const checkout = () => {
      const dir = mkdtempSync(join(tmpdir(), "provium-fxkey-checkout-"));
      afterAll(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, "helper.lua"), "return { greeting = 'hi' }\n");
      writeFileSync(join(dir, "data.txt"), "payload\n");
      writeFileSync(join(dir, "base.fixture.lua"), `local h = require("helper")\nlocal vm = provium:vm("b", "minimal"):boot()\nvm:push_file("data.txt", "/tmp/data")\nreturn vm:snapshot()\n`);
      return dir;
    };
    const keyIn = (dir: string) => fixtureKey(join(dir, "base.fixture.lua"), { config: { file: null, dir, roots: [dir], profiles: {} }, agent: "agent", defaultKernel: "kernel" }).key;
    const [a, b] = [checkout(), checkout()];
    expect(keyIn(a)).toBe(keyIn(b));
    writeFileSync(join(b, "helper.lua"), "return { greeting = 'hello' }\n");
    expect(keyIn(a)).not.toBe(keyIn(b));
  });
});
