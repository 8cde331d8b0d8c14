// `hello`: the agent's version and the guest's uptime. The port's reader thread answers it (it
// is the first request after every restore; see port-reader.ts).
import { AgentServer, encodeFrame, protocolVersion, type PlainRequest } from "@provium/protocol";
import { readFileSync } from "node:fs";
import { toFailure } from "./errors";
import { reseed } from "./reseed";
import { setClock } from "./clock";

type Hello = NonNullable<NonNullable<PlainRequest["op"]>["hello"]>;

const AGENT_VERSION = "0.1.0";

// The guest's uptime: /proc/uptime once, at start, then the monotonic clock. A file read per
// hello made the first answer after a restore ~2,000 TCG translation blocks longer (open, read,
// close and their paths in Bun and the kernel, translated anew in a new QEMU).
const bootOffsetMs = uptimeMs() - performance.now();

function uptimeMs() {
  try {
    return parseFloat(readFileSync("/proc/uptime", "utf8")) * 1000;
  } catch {
    return 0;
  }
}

/** The guest's uptime now, in ms (performance.now() counts from this thread's start). */
export function guestUptimeMs() {
  return bootOffsetMs + performance.now();
}

/** hello's answer; a warm boot's first hello also makes the clone's randomness and clock its own. */
export function helloReply(hello?: Hello) {
  const entropy = hello?.entropy;
  const reseeded = !!entropy?.length;
  if (reseeded) {
    reseed(entropy);
    if (hello!.clockNs) setClock(BigInt(hello!.clockNs));
  }
  return { hello: { agentVersion: AGENT_VERSION, bootMs: Math.round(guestUptimeMs()), reseeded } };
}

// A restored VM runs in a new QEMU whose TCG translates every path the agent takes anew. Run
// once (at boot), hello's path was also cold for the JIT: interpreted, through slow paths, it
// made that first answer ~50 ms longer (~20,500 translation blocks against ~15,500). So after
// the boot hello the agent answers it some more times itself, on a server that writes nowhere
// (~70 ms of guest time in all, under TCG; the shared request path gets compiled sooner too).
const HELLO_WARMUPS = 30;

/** Runs hello's path some times through `handle`, on a server that writes nowhere. */
export function warmHello(handle: (req: PlainRequest) => object) {
  const sink = new AgentServer({ write() {}, close() {} }, handle as never, toFailure);
  const frame = encodeFrame({ request: { id: 1, worker: 0, op: { hello: { protocolVersion } } } });
  for (let i = 0; i < HELLO_WARMUPS; i++) sink.receive(frame);
}
