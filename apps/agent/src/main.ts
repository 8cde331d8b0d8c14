// The guest agent: serves the host's requests on the virtio port.
import { AgentServer, encodeFrame, protocolVersion, type PlainRequest } from "@provium/protocol";
import { readFileSync } from "node:fs";
import { findPort, Port } from "./port";
import { toFailure } from "./errors";
import { processOp, execIn } from "./process";
import { namespace, type Namespace } from "./namespace";
import type { ByteStream } from "./streams";
import { files } from "./files";

export const AGENT_VERSION = "0.1.0";

type Op = NonNullable<PlainRequest["op"]>;
type Handler = (arg: any, ns: Namespace, req: PlainRequest) => Promise<object> | object;

// One handler per op (the member name of Request.op); each family registers its own.
export const handlers: Partial<Record<keyof Op, Handler>> = {
  hello: () => {
    warmHelloOnce();
    return { hello: { agentVersion: AGENT_VERSION, bootMs: Math.round(bootOffsetMs + performance.now()) } };
  },
  exec: async (e, ns) => ({ exec: await execIn(ns, e) }),
  streamRead: async (r, ns) => ({ streamData: await ns.get<ByteStream>(r.handle, "stream").read(r.maxBytes, r.timeoutMs) }),
  streamClose: async (handle, ns) => (await ns.close(handle), { done: true }),
  process: (op, ns) => processOp(op, ns),
  files: (op, ns) => files(op, ns),
};

// The guest's uptime for `hello`: /proc/uptime once, at start, then the monotonic clock. A file
// read per hello made the first answer after a restore ~2,000 TCG translation blocks longer
// (open, read, close and their paths in Bun and the kernel, translated anew in a new QEMU).
const bootOffsetMs = uptimeMs() - performance.now();

function uptimeMs() {
  try {
    return parseFloat(readFileSync("/proc/uptime", "utf8")) * 1000;
  } catch {
    return 0;
  }
}

// hello is the first request after every restore, and a restored VM runs in a new QEMU whose
// TCG translates every path the agent takes anew. Run once (at boot), hello's path was also cold
// for the JIT: interpreted, through slow paths, it made that first answer ~50 ms longer (~20,500
// translation blocks against ~15,500). So after the boot hello, the agent answers it some more
// times itself, on a server that writes nowhere, in small steps between real requests (~100 ms
// of guest time in all, under TCG; the shared request path gets compiled sooner too).
const HELLO_WARMUPS = 30;
let warmup = false;

function warmHelloOnce() {
  if (warmup) return;
  warmup = true;
  const sink = new AgentServer({ write() {}, close() {} }, handle as never, toFailure);
  const frame = encodeFrame({ request: { id: 1, worker: 0, op: { hello: { protocolVersion } } } });
  let left = HELLO_WARMUPS;
  const step = () => {
    for (let i = 0; i < 5 && left > 0; i++, left--) sink.receive(frame);
    if (left > 0) setTimeout(step, 1);
  };
  setTimeout(step, 1);
}

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
  const port = new Port(path);
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
  process.on("uncaughtException", (e) => console.error("provium-agent: uncaught", e));
  process.on("unhandledRejection", (e) => console.error("provium-agent: unhandled", e));
  await main();
}
