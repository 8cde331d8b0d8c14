// Connects an AgentClient to a VM's agent chardev (a unix socket QEMU listens on).
// Bun's socket.write may take only part of a buffer; the rest waits for `drain`.
import { AgentClient } from "@provium/protocol";

export async function connectAgent(path: string, onClose: (why: Error) => void): Promise<AgentClient> {
  const queue: Uint8Array[] = [];
  let socket: any = null;
  const flush = () => {
    while (queue.length && socket) {
      const head = queue[0]!;
      const n = socket.write(head);
      if (n < head.byteLength) {
        queue[0] = head.subarray(Math.max(n, 0));
        return;
      }
      queue.shift();
    }
  };
  const client: AgentClient = new AgentClient(
    {
      write(bytes) {
        queue.push(bytes);
        if (queue.length === 1) flush();
      },
      close() {
        socket?.end();
      },
    },
    { onClose },
  );
  socket = await Bun.connect({
    unix: path,
    socket: {
      data: (_s, chunk) => client.receive(chunk),
      drain: () => flush(),
      close: () => client.close(new Error("the agent connection closed (guest powered off or QEMU exited)")),
      error: (_s, e) => client.close(new Error(`agent socket error: ${e.message}`)),
    },
  });
  flush();
  return client;
}
