// A runner worker: runs the test files it is handed, one at a time, and owns their VMs.
// Each file's Lua runs on a thread of its own that blocks on host calls; this thread does
// the I/O, so it can also stop a runaway or timed-out file and tear its VMs down.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { installExitCleanup, runExitCleanups } from "@provium/vmm";
import { agentEntry } from "@provium/agent";
import { lazyFixtureCache, openRemoteCache, openSession, type HostSetup } from "@provium/host-runtime";
import { startLuaThread, type LuaThread } from "@provium/lua-runtime";
import { event, type RunEvent } from "../events";
import { verdict } from "./selection";
import { acquireCapacity, onCapacityReply } from "./capacity-client";
import { send, type FromWorker, type ToWorker, type WorkerInit } from "./messages";
import { withKernel } from "../matrix";
import { TimelineBuffer } from "./timeline-buffer";

declare const self: Worker;

let init: WorkerInit;
let host: HostSetup | null = null;
const toPool = (m: FromWorker) => send(self, m);
const post = (e: RunEvent) => toPool({ kind: "event", event: e });

installExitCleanup();

self.onmessage = async (m: MessageEvent<ToWorker>) => {
  const d = m.data;
  if (d.kind === "init") {
    init = d.init;
    // One fixture cache and capacity channel for every file this worker runs.
    host = {
      config: init.config,
      cacheDir: init.cacheDir,
      agentEntry,
      remote: openRemoteCache(init.config, (m) => post(event("progress", { message: `warning: ${m}` }))),
      accel: init.accel,
      agentDeadlineMs: init.agentDeadlineMs,
      fixtures: lazyFixtureCache(init.config, init.cacheDir),
      acquire: (want) => acquireCapacity(toPool, want),
      gdb: init.gdb ? (init.debug ? "wait" : "on") : undefined,
    };
  } else if (d.kind === "capacity_reply") onCapacityReply(d);
  else if (d.kind === "debug_line") debugLine?.(d.line);
  else if (d.kind === "stop") {
    // The run is being interrupted: kill our VMs (spares too) and remove the sessions' temp
    // dirs now, before the pool ends this thread.
    runExitCleanups();
    toPool({ kind: "stopped" });
  } else if (d.kind === "file") {
    await runFile(d.path, d.matrix ? { ...host!, config: withKernel(init.config, d.matrix.kernel) } : host!);
    toPool({ kind: "file_done", path: d.path });
  }
};

// --debug's prompt: a line asked of the pool (which owns the terminal), one at a time.
let debugLine: ((line: string | null) => void) | null = null;
function debugRead(prompt: string) {
  return new Promise<string | null>((resolve) => {
    debugLine = (line) => ((debugLine = null), resolve(line));
    toPool({ kind: "debug_read", prompt });
  });
}

async function runFile(path: string, host: HostSetup) {
  const file = relative(process.cwd(), path) || path;
  let started = Date.now();
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
  // Ops of the running test, and of the file's top level; consoles kept when a test failed.
  const testOps = new TimelineBuffer();
  const fileOps = new TimelineBuffer();
  let failingConsoles: RunEvent["consoles"] | null = null;
  // --debug: while the prompt is open the file's clock stops (no timeout fires on the user).
  let pausedAt: number | null = null;

  const session = openSession(host, path, {
    cidCounter: new Int32Array(init.cids),
    listOnly: init.selection.listOnly,
    plan: (tests, timeoutS) => {
      if (timeoutS) armDeadline(timeoutS, "file"); // provium.timeout at the file's top level
      fileTimeoutS = timeoutS ?? fileTimeoutS;
      return tests.map((t) => verdict(init.selection, path, t));
    },
    onProgress: (message) => post(event("progress", { file, message })),
    onVmEvent: (kind, info) => post(event(kind, { file, ...info })),
    emit: (kind, fields) => post(event(kind as RunEvent["kind"], { file, ...fields })),
    onTestBegin: (name, timeoutS) => {
      current = { name, started: Date.now() };
      if (timeoutS) armDeadline(timeoutS, `test "${name}"`);
    },
    onOp: (r) => (current ? testOps : fileOps).push(r),
    onTestFailing: () => {
      failingConsoles = session.consoleTails();
      return !!init.debug;
    },
    debugConsole: init.debug
      ? {
          read: (prompt) => {
            if (pausedAt === null) (pausedAt = Date.now()), clearTimeout(deadline);
            return debugRead(prompt);
          },
          write: (text) => toPool({ kind: "debug_write", text }),
        }
      : undefined,
  });

  const onLuaEvent = (e: Record<string, unknown>) => {
    const kind = e.kind as string;
    const out = event(kind as RunEvent["kind"], { ...e, file });
    const ended = kind === "test_passed" || kind === "test_failed" || (kind === "test_skipped" && current?.name === e.test);
    if (ended) {
      if (pausedAt !== null) started += Date.now() - pausedAt; // the prompt's time is not the file's
      out.duration_ms = current ? Date.now() - current.started - (pausedAt !== null ? Date.now() - pausedAt : 0) : 0;
      pausedAt = null;
      current = null;
      Object.assign(out, testOps.take());
      armDeadline(fileTimeoutS - (Date.now() - started) / 1000, "file");
    }
    if (kind === "test_failed") out.consoles = failingConsoles ?? session.consoleTails();
    if (kind === "file_error") Object.assign(out, { consoles: session.consoleTails() }, fileOps.fields());
    if (ended) failingConsoles = null;
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
    if (current) post(event("test_failed", { file, test: current.name, reason: failure, duration_ms: Date.now() - current.started, consoles, ...testOps.take() }));
    else post(event("file_error", { file, reason: failure, consoles, ...fileOps.fields() }));
  }
  await session.close();
  post(event("file_completed", { file, duration_ms: Date.now() - started, ...fileOps.take() }));
}
