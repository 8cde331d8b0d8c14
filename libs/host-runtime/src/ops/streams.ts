// Reading and closing guest-side streams (process output, tails).
import type { GuestOps } from "./guest-op";

const READ_CHUNK = 1024 * 1024;

export const streamOps = {
  stream_read: {
    describe: ({ handle }) => `stream ${handle} read`,
    request: ({ handle, timeout_ms }) => ({ streamRead: { handle, maxBytes: READ_CHUNK, timeoutMs: timeout_ms } }),
    reply: (r) => ({ data: r.streamData!.data ?? new Uint8Array(), eof: !!r.streamData!.eof }),
  },
  stream_close: {
    describe: ({ handle }) => `stream ${handle} close`,
    request: ({ handle }) => ({ streamClose: handle }),
    reply: () => true,
  },
} satisfies GuestOps;
