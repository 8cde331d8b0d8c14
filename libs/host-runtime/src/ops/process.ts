// The process family: run_async processes, workers, and the agent's census.
import type { Op, Reply } from "@provium/protocol";
import type { GuestOps, OpContext } from "./guest-op";
import { bytes, runResult, type Command } from "./exec";

type ProcessOp = NonNullable<Op["process"]>;
type ProcessReply = NonNullable<NonNullable<Reply["process"]>>;

const req = (op: ProcessOp): Op => ({ process: op });
const rep = (r: Reply): ProcessReply => {
  if (!r.process) throw new Error(`the agent answered with '${Object.keys(r).find((k) => k !== "id")}'`);
  return r.process;
};
const h = (a: { handle: number }) => a.handle;

export const processOps = {
  run_async: {
    describe: ({ cmd }: { cmd: Command }) => `run_async ${cmd.argv.join(" ")}`,
    request: ({ cmd }: { cmd: Command }) =>
      req({ spawn: { argv: cmd.argv, env: cmd.env, envClear: cmd.env_clear, cwd: cmd.cwd, stdin: bytes(cmd.stdin) } }),
    reply: (r) => {
      const s = rep(r).spawned!;
      return { handle: s.handle, pid: s.pid };
    },
  },
  process_signal: {
    describe: (a) => `process ${a.handle} signal ${a.signal}`,
    request: (a) => req({ signal: { handle: a.handle, signal: a.signal } }),
    reply: (r) => !!rep(r).delivered,
  },
  process_pid: {
    describe: (a) => `process ${a.handle} pid`,
    request: (a) => req({ pid: h(a) }),
    reply: (r) => rep(r).pid || null,
  },
  process_status: {
    describe: (a) => `process ${a.handle} status`,
    request: (a) => req({ status: h(a) }),
    reply: (r) => (rep(r).status!.running ? "running" : "exited"),
  },
  process_wait: {
    describe: (a) => `process ${a.handle} wait`,
    request: (a) => req({ wait: { handle: a.handle, timeoutMs: a.timeout_ms ?? 0 } }),
    reply: async (r, _a, ctx) => {
      const w = rep(r).waited!;
      return w.exited ? { exited: true, result: await runResult(w.result ?? {}, ctx) } : { exited: false };
    },
  },
  process_stdin_write: {
    describe: (a) => `process ${a.handle} stdin_write`,
    request: (a) => req({ stdinWrite: { handle: a.handle, data: bytes(a.data) } }),
    reply: () => true,
  },
  process_close_stdin: {
    describe: (a) => `process ${a.handle} close_stdin`,
    request: (a) => req({ closeStdin: h(a) }),
    reply: () => true,
  },
  process_stream: {
    describe: (a) => `process ${a.handle} ${a.stderr ? "stderr" : "stdout"}_stream`,
    request: (a) => req({ openStream: { handle: a.handle, stderr: !!a.stderr } }),
    reply: (r) => rep(r).stream,
  },
  process_close: {
    describe: (a) => `process ${a.handle} close`,
    request: (a) => req({ close: h(a) }),
    reply: () => true,
  },
  worker_spawn: {
    describe: () => "spawn_worker",
    request: () => req({ spawnWorker: true }),
    reply: (r) => rep(r).worker,
  },
  worker_kill: {
    describe: (a) => `worker kill ${a.signal}`,
    request: (a) => req({ workerKill: a.signal }),
    reply: (r) => rep(r).count ?? 0,
  },
  worker_join: {
    describe: () => "worker join",
    request: (a) => req({ workerJoin: a.timeout_ms ?? 0 }),
    reply: (r) => joined(rep(r)),
  },
  worker_close: {
    describe: () => "worker close",
    request: () => req({ workerClose: true }),
    reply: (r) => joined(rep(r)),
  },
  agent_census: {
    describe: () => "agent census",
    request: () => req({ census: true }),
    reply: (r) => {
      const c = rep(r).census!;
      return { processes: c.processes ?? 0, streams: c.streams ?? 0, workers: c.workers ?? 0 };
    },
  },
} satisfies GuestOps;

function joined(r: ProcessReply) {
  const j = r.joined!;
  return { done: !!j.done, worst: j.worst ?? 0, reaped: j.reaped ?? 0, running: j.running ?? 0 };
}

export type { OpContext };
