// Connects an AgentClient to a VM's agent chardev (a unix socket QEMU listens on).
import { AgentClient } from "./client";
import { connectUnix, type UnixConnection } from "./unix-socket";

export async function connectAgent(path: string, onClose: (why: Error) => void): Promise<AgentClient> {
  let conn: UnixConnection | null = null;
  const early: Uint8Array[] = [];
  const client: AgentClient = new AgentClient(
    { write: (bytes) => void (conn ? conn.write(bytes) : early.push(bytes)), close: () => conn?.end() },
    { onClose },
  );
  conn = await connectUnix(path, {
    data: (chunk) => client.receive(chunk),
    close: () => client.close(new Error("the agent connection closed (guest powered off or QEMU exited)")),
    error: (e) => client.close(new Error(`agent socket error: ${e.message}`)),
  });
  for (const b of early.splice(0)) conn.write(b);
  return client;
}
