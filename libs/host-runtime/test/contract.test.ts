// The Lua half and the host half agree on one contract (src/host-api.ts): every host op
// the Lua sources call is one the session answers and the other way round, every guest op
// Lua names is one the host can run (and none is dead), and every vm:NAME guest op is typed
// for LuaLS. The TypeScript side is checked by the compiler (the session's table is HostOps).
import { expect, test } from "bun:test";
import { luaApiSources, luaTypes } from "@provium/lua-runtime";
import { builtinProfiles, guestOps, openSession } from "../src";

const lua = luaApiSources.map(([, source]) => source).join("\n");
const names = (re: RegExp) => new Set([...lua.matchAll(re)].map((m) => m[1]!));
const sorted = (s: Iterable<string>) => [...s].sort();

test("the host ops Lua calls are exactly the session's", () => {
  const host = { config: { file: null, dir: ".", roots: [], profiles: builtinProfiles }, cacheDir: "/nonexistent", agentEntry: "/nonexistent/main.ts", accel: "tcg" as const };
  const session = openSession({ ...host, agentDeadlineMs: 1, fixtures: () => null as never, acquire: async () => () => {} }, "x.test.lua");
  const called = names(/P\.call\("([a-z_.]+)"/g);
  expect(sorted(called)).toEqual(sorted(session.hostOpNames()));
});

test("the guest ops Lua names are exactly the host's", () => {
  const named = names(/(?:define_guest_op\(|op = |_call\(|_call, self, |guest\(self, |guest, self, )"([a-z_]+)"/g);
  // agent_census: the agent's process count, for tests of cleanup (tests/commands/scopes.test.lua) and bench
  expect(sorted([...named, "agent_census"])).toEqual(sorted(Object.keys(guestOps)));
});

test("every vm:NAME guest op has a LuaLS definition", () => {
  const defs = luaTypes;
  const methods = names(/define_guest_op\("([a-z_]+)"/g);
  const missing = [...methods].filter((m) => m !== "agent_requests" && !defs.includes(`function Guest:${m}(`));
  expect(missing).toEqual([]);
});
