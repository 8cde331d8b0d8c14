// A runner worker: runs the test files it is handed, one at a time, and owns their VMs.
// Each file's Lua runs on a thread of its own that blocks on host calls; this thread does
// the I/O, so it can also stop a runaway or timed-out file and tear its VMs down.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { installExitCleanup, runExitCleanups } from "@provium/vmm";
import { startLuaThread, type LuaThread } from "./lua-thread";
import type { FixtureCache } from "@provium/fixture-cache";
import { openFixtureCache } from "./fixture-cache";
import { event, type RunEvent } from "../events";
import type { Config } from "../config";
import { FileSession } from "./session";
import { verdict, type Selection } from "./selection";
import { acquireCapacity, onCapacityReply } from "./capacity-client";

declare const self: Worker;

export interface WorkerInit {
  config: Config;
  cacheDir: string;
  accel: "kvm" | "tcg";
  selection: Selection;
  fileTimeoutS: number;
  agentDeadlineMs: number;
  /** The run's vm:cid() counter, shared by every worker. */
  cids: SharedArrayBuffer;
}

let init: WorkerInit;
let cache: FixtureCache | null = null;
const fixtureCache = () => (cache ??= openFixtureCache(init.config, init.cacheDir));
const post = (e: RunEvent) => self.postMessage({ kind: "event", event: e });

installExitCleanup();

self.onmessage = async (m: MessageEvent) => {
  if (m.data.kind === "init") init = m.data.init;
  else if (m.data.kind === "capacity_reply") onCapacityReply(m.data);
  else if (m.data.kind === "stop") {
    // The run is being interrupted: kill our VMs (spares too) and remove the sessions' temp
    // dirs now, before the pool ends this thread.
    runExitCleanups();
    self.postMessage({ kind: "stopped" });
  }
  else if (m.data.kind === "file") {
    await runFile(m.data.path);
    self.postMessage({ kind: "file_done", path: m.data.path });
  }
};

async function runFile(path: string) {
  const file = relative(process.cwd(), path) || path;
  const started = Date.now();
  let current = null as { name: string; started: number } | null;
  let deadline: Timer | undefined;
  let lua: LuaThread | null = null;
  const pendingStop: string[] = [];
  const finish = (why: string) => (lua ? lua.stop(why) : pendingStop.push(why));

  const armDeadline = (seconds: number, what: string) => {
    clearTimeout(deadline);
    deadline = setTimeout(() => finish(`${what} timed out after ${seconds} s`), seconds * 1000);
  };
  let fileTimeoutS = init.fileTimeoutS;
  armDeadline(fileTimeoutS, "file");

  const session = new FileSession({
    config: init.config,
    cacheDir: init.cacheDir,
    accel: init.accel,
    filePath: path,
    agentDeadlineMs: init.agentDeadlineMs,
    cidCounter: new Int32Array(init.cids),
    listOnly: init.selection.listOnly,
    plan: (tests, timeoutS) => {
      if (timeoutS) armDeadline(timeoutS, "file"); // provium.timeout at the file's top level
      fileTimeoutS = timeoutS ?? fileTimeoutS;
      return tests.map((t) => verdict(init.selection, path, t));
    },
    onProgress: (message) => post(event("progress", { file, message })),
    onVmEvent: (kind, info) => post(event(kind, { file, ...info })),
    acquire: (want) => acquireCapacity((msg) => self.postMessage(msg), want),
    emit: (kind, fields) => post(event(kind as RunEvent["kind"], { file, ...fields })),
    fixtures: fixtureCache(),
    onTestBegin: (name, timeoutS) => {
      current = { name, started: Date.now() };
      if (timeoutS) armDeadline(timeoutS, `test "${name}"`);
    },
  });

  const onLuaEvent = (e: Record<string, unknown>) => {
    const kind = e.kind as string;
    const out = event(kind as RunEvent["kind"], { ...e, file });
    if (kind === "test_passed" || kind === "test_failed") {
      out.duration_ms = current ? Date.now() - current.started : 0;
      current = null;
      armDeadline(fileTimeoutS - (Date.now() - started) / 1000, "file");
    }
    if (kind === "test_failed" || kind === "file_error") out.consoles = session.consoleTails();
    post(out);
  };

  let source: string;
  try {
    source = readFileSync(path, "utf8");
  } catch (e) {
    source = `error(${JSON.stringify(`cannot read ${file}: ${(e as Error).message}`)}, 0)`;
  }
  lua = startLuaThread({ displayPath: file, source }, session.handle, onLuaEvent);
  if (pendingStop.length) lua.stop(pendingStop[0]!);
  const failure = await lua.done;
  clearTimeout(deadline);
  if (failure) {
    const consoles = session.consoleTails();
    if (current) post(event("test_failed", { file, test: current.name, reason: failure, duration_ms: Date.now() - current.started, consoles }));
    else post(event("file_error", { file, reason: failure, consoles }));
  }
  await session.close();
  post(event("file_completed", { file, duration_ms: Date.now() - started }));
}
