// The least a Bun-compiled agent can do at boot: find the port, open it, answer hello (and
// nothing else; one thread, blocking reads). `bun bench/boot-ab.ts --bare` builds it with the
// agent's own flags and boots it against the real agent and the busybox floor: what is left
// between it and the floor is Bun's own start in the guest, which no agent built with Bun can cut.
import { AgentServer } from "@provium/protocol";
import { openSync, readSync, writeSync } from "node:fs";
import { findPort, helloReply, toFailure } from "@provium/agent";

const fd = openSync(process.argv[2] ?? (await findPort()), "r+");
const server = new AgentServer({ write: (b) => void writeSync(fd, b), close() {} }, helloReply as never, toFailure);
const buf = new Uint8Array(64 * 1024);
for (;;) {
  const n = readSync(fd, buf);
  if (n > 0) server.receive(buf.subarray(0, n));
  else Bun.sleepSync(2); // no host attached yet: the port reads end of file
}
