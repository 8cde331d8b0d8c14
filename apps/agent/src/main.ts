// The guest agent: serves the host's requests on the virtio port.
import { AgentServer, type PlainRequest } from "@provium/protocol";
import { findPort, Port } from "./port";
import { toFailure } from "./errors";
import { exec } from "./exec";
import { readFileSync } from "node:fs";

export const AGENT_VERSION = "0.1.0";

function uptimeMs() {
  try {
    return Math.round(parseFloat(readFileSync("/proc/uptime", "utf8")) * 1000);
  } catch {
    return 0;
  }
}

async function handle(req: PlainRequest) {
  const op = req.op!;
  if (op.hello) return { hello: { agentVersion: AGENT_VERSION, bootMs: uptimeMs() } };
  if (op.exec) return { exec: await exec(op.exec) };
  throw Object.assign(new Error(`unsupported op: ${Object.keys(op)[0]}`), { code: "ENOSYS" });
}

async function main() {
  const path = process.argv[2] ?? (await findPort());
  const port = new Port(path);
  const server = new AgentServer({ write: (b) => port.write(b), close() {} }, handle, toFailure, {
    // A broken frame from the host: report on the console and keep serving new frames.
    onClose: (why) => {
      console.error(`provium-agent: connection error: ${why.message}`);
      process.exit(3);
    },
  });
  await port.readLoop((chunk) => server.receive(chunk));
}

process.on("uncaughtException", (e) => console.error("provium-agent: uncaught", e));
process.on("unhandledRejection", (e) => console.error("provium-agent: unhandled", e));
await main();
