// A worker's own process (upstream's sub-agent): the agent's executable again, started at the
// worker's first raw call, serving the same protocol on its stdin/stdout. The worker's raw
// calls (syscall, read_mem) run there, on its main thread, so what they change of the
// process (credentials: setuid, capabilities, ...) stays with the worker's later calls and
// never touches the agent; getpid is the worker's own. syscall_async runs on a thread of that
// process. The worker's commands, files and streams stay in the agent's namespace.
import { AgentClient, AgentServer, AgentConnectionError, type Op, type PlainRequest } from "@provium/protocol";
import * as fs from "node:fs";
import type { Subprocess } from "bun";
import type { Namespace, Resource } from "./namespace";
import { rawCall, readMem } from "./rawcalls";
import { toFailure } from "./errors";
import { startupOver } from "./jit-policy";

const ROLE = "PROVIUM_WORKER_PROCESS";

/** Whether this process is a worker's (started by WorkerProcess below). */
export function isWorkerProcess() {
  return process.env[ROLE] === "1";
}

// The agent again, started as this one was (guest-init runs it through a private ld.so).
function selfCommand(): string[] {
  const argv = fs.readFileSync("/proc/self/cmdline", "latin1").split("\0");
  if (argv.at(-1) === "") argv.pop();
  return argv;
}

class WorkerProcess implements Resource {
  readonly kind = "worker-process";
  private readonly proc: Subprocess<"pipe", "pipe", "inherit">;
  private readonly client: AgentClient;

  constructor(ns: Namespace) {
    const proc = Bun.spawn({ cmd: selfCommand(), env: { ...process.env, [ROLE]: "1" }, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    const client = new AgentClient({
      write: (b) => {
        proc.stdin.write(b);
        const flushed = proc.stdin.flush();
        return flushed instanceof Promise ? flushed : undefined;
      },
      close: () => void proc.stdin.end(),
    });
    void (async () => {
      for await (const chunk of proc.stdout) client.receive(chunk);
      const code = await proc.exited;
      client.close(new AgentConnectionError(`the process of worker ${ns.id} exited (${proc.signalCode ?? `code ${code}`})`));
    })();
    this.proc = proc;
    this.client = client;
  }

  get pid() {
    return this.proc.pid;
  }

  /** Relays one op; its reply (an error too) is the worker's answer. */
  async call(op: Op): Promise<object> {
    const { id: _, ...body } = await this.client.request(op);
    return body;
  }

  close() {
    this.proc.kill(9); // it may be blocked in a call: only SIGKILL ends it for sure
    this.client.close(new AgentConnectionError("the worker was closed"));
  }
}

const processes = new WeakMap<Namespace, WorkerProcess>();

/** The worker's process, started now if it has none yet; it ends with the worker's namespace. */
export function workerProcess(ns: Namespace): WorkerProcess {
  let p = processes.get(ns);
  if (!p) {
    p = new WorkerProcess(ns);
    processes.set(ns, p);
    ns.add(p);
  }
  return p;
}

// ---- the worker's side ----------------------------------------------------------------------

function serveOp(req: PlainRequest): object | Promise<object> {
  const f = req.op?.files;
  if (f?.syscall) return rawCall("syscall", f.syscall, f.syscall.async ? "thread" : "here").then((raw) => ({ files: { raw } }));
  if (f?.ioctl) return rawCall("ioctl", f.ioctl, "here").then((raw) => ({ files: { raw } }));
  if (f?.readMem) return { files: { raw: readMem(f.readMem) } };
  if (req.op?.hello) return { hello: {} };
  throw Object.assign(new Error(`a worker's process serves raw calls only, not ${Object.keys(req.op?.files ?? req.op ?? {})[0]}`), { code: "ENOSYS" });
}

// Whole frames, in order: a reply waits for the agent to read the one before (a pipe may take less).
function writeAll(b: Uint8Array) {
  for (let at = 0; at < b.byteLength; ) {
    try {
      at += fs.writeSync(1, b, at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      Bun.sleepSync(1);
    }
  }
}

/** The worker process's life: requests on stdin, replies on stdout, until stdin closes. */
export async function serveWorker() {
  delete process.env[ROLE];
  startupOver();
  const server = new AgentServer({ write: writeAll, close() {} }, serveOp as never, toFailure, {
    onClose: () => process.exit(3),
  });
  for await (const chunk of Bun.stdin.stream()) server.receive(chunk);
  process.exit(0);
}
