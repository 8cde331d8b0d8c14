// The guest agent: serves the host's requests on the virtio port.
import { AgentServer, type PlainRequest } from "@provium/protocol";
import { findPort, Port } from "./port";
import { toFailure } from "./errors";
import { processOp, execIn } from "./process";
import { namespace, type Namespace } from "./namespace";
import type { ByteStream } from "./streams";
import { files } from "./files";
import { guestUptimeMs, helloReply } from "./hello";
import { clockOp } from "./clock";
import { bootTrace, tracing } from "./boot-trace";
import { startupOver } from "./jit-policy";
import { isWorkerProcess, serveWorker } from "./worker-process";

type Op = NonNullable<PlainRequest["op"]>;
type Handler = (arg: any, ns: Namespace, req: PlainRequest) => Promise<object> | object;

// One handler per op (the member name of Request.op); each family registers its own.
export const handlers: Partial<Record<keyof Op, Handler>> = {
  hello: helloReply,
  exec: async (e, ns) => ({ exec: await execIn(ns, e) }),
  streamRead: async (r, ns) => ({ streamData: await ns.get<ByteStream>(r.handle, "stream").read(r.maxBytes, r.timeoutMs) }),
  streamClose: async (handle, ns) => (await ns.close(handle), { done: true }),
  process: (op, ns) => processOp(op, ns),
  files: (op, ns) => files(op, ns),
  clock: (op) => clockOp(op),
};

/** Runs one op: its reply, or a promise of it when the op waits for something. */
export function handle(req: PlainRequest) {
  const op = req.op!;
  for (const name in op) {
    const h = handlers[name as keyof Op];
    if (!h) throw Object.assign(new Error(`unsupported op: ${name}`), { code: "ENOSYS" });
    return h(op[name as keyof Op], namespace(req.worker ?? 0), req);
  }
  throw Object.assign(new Error("request without an op"), { code: "ENOSYS" });
}

async function main() {
  const path = process.argv[2] ?? (await findPort());
  const port = new Port(path, tracing);
  bootTrace("agent port open");
  startupOver();
  const server = new AgentServer({ write: (b) => port.write(b), close() {} }, handle as never, toFailure, {
    onClose: (why) => {
      console.error(`provium-agent: connection error: ${why.message}`);
      process.exit(3);
    },
    countedElsewhere: () => port.answeredByReader,
  });
  await port.readLoop((chunk) => server.receive(chunk));
}

if (import.meta.main) {
  // Set by guest-init for this process's JIT alone (provium.noftl): JSC read it at start-up,
  // and the commands the agent runs must not inherit it.
  delete process.env.BUN_JSC_useFTLJIT;
  delete process.env.PROVIUM_TRACE;
  bootTrace("agent process started", guestUptimeMs() - performance.now());
  bootTrace("agent main runs");
  process.on("uncaughtException", (e) => console.error("provium-agent: uncaught", e));
  process.on("unhandledRejection", (e) => console.error("provium-agent: unhandled", e));
  if (isWorkerProcess()) await serveWorker();
  else await main();
}
