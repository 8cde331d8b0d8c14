// A unix-socket client whose writes never drop bytes: Bun's socket.write may take only part
// of a buffer, and the rest is written on `drain`.
export interface UnixConnection {
  write(bytes: Uint8Array | string): void;
  end(): void;
  /** Resolves once everything written so far has been handed to the kernel. */
  flushed(): Promise<void>;
}

export async function connectUnix(
  path: string,
  handlers: { data?: (chunk: Uint8Array) => void; close?: () => void; error?: (e: Error) => void } = {},
): Promise<UnixConnection> {
  const queue: Uint8Array[] = [];
  let waiters: (() => void)[] = [];
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
    if (!queue.length) for (const w of waiters.splice(0)) w();
  };
  socket = await Bun.connect({
    unix: path,
    socket: {
      data: (_s, chunk) => handlers.data?.(chunk),
      drain: () => flush(),
      close: () => handlers.close?.(),
      error: (_s, e) => handlers.error?.(e),
    },
  });
  const encoder = new TextEncoder();
  return {
    write(bytes) {
      queue.push(typeof bytes === "string" ? encoder.encode(bytes) : bytes);
      if (queue.length === 1) flush();
    },
    end: () => socket.end(),
    flushed: () => (queue.length ? new Promise<void>((r) => waiters.push(r)) : Promise.resolve()),
  };
}
