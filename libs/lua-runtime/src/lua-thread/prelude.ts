// The Lua half of the API as text (Bun embeds it at build time), in the order the engine loads it.
import core from "../lua/core.lua" with { type: "text" };
import requireLua from "../lua/require.lua" with { type: "text" };
import testLua from "../lua/test.lua" with { type: "text" };
import benchLua from "../lua/bench.lua" with { type: "text" };
import vmLua from "../lua/vm.lua" with { type: "text" };
import replLua from "../lua/repl.lua" with { type: "text" };
import jsonLua from "../lua/json.lua" with { type: "text" };
import waitLua from "../lua/wait.lua" with { type: "text" };
import streamLua from "../lua/stream.lua" with { type: "text" };
import spawnLua from "../lua/spawn.lua" with { type: "text" };
import processLua from "../lua/process.lua" with { type: "text" };
import workerLua from "../lua/worker.lua" with { type: "text" };
import filesLua from "../lua/files.lua" with { type: "text" };
import fileLua from "../lua/file.lua" with { type: "text" };
import snapshotLua from "../lua/snapshot.lua" with { type: "text" };
import ioLua from "../lua/io.lua" with { type: "text" };
import devicesLua from "../lua/devices.lua" with { type: "text" };
import networkLua from "../lua/network.lua" with { type: "text" };

/** The Lua half of the API, in load order: [chunk name, source]. */
export const preludeChunks: readonly (readonly [string, string])[] = [
  ["core.lua", core],
  ["require.lua", requireLua],
  ["test.lua", testLua],
  ["bench.lua", benchLua],
  ["vm.lua", vmLua],
  ["repl.lua", replLua],
  ["json.lua", jsonLua],
  ["wait.lua", waitLua],
  ["stream.lua", streamLua],
  ["spawn.lua", spawnLua],
  ["process.lua", processLua],
  ["worker.lua", workerLua],
  ["snapshot.lua", snapshotLua],
  ["file.lua", fileLua],
  ["files.lua", filesLua],
  ["io.lua", ioLua],
  ["devices.lua", devicesLua],
  ["network.lua", networkLua],
];
