// The port's reader thread. It waits in a blocking read(2) on the port, splits what arrives
// into frames, and answers the quick ops itself: hello, stat, listdir, mkdir, unlink, rename,
// whole reads of regular files, whole writes of regular (or new) files, and batches of those.
// hello is here because it is the first request after every restore, when each path taken is
// translated anew by TCG: the reader answered it in 52 ms, the main thread in 103 (8,700 TCG
// translation blocks against 15,400; bench/restore-profile.ts).
// They never wait and touch nothing the main thread holds (no handles, no processes), so they
// need no hop to the main thread, which costs ~0.35 ms in a TCG guest (a 16 B echo: ~0.3 ms
// with a blocking read, ~0.65 ms handed to the main thread), and a file's bytes are not copied
// from thread to thread. Every other frame goes to the main thread byte for byte, through
// shared memory (see port.ts).
import { openSync, readSync, statSync, writeSync } from "node:fs";
import { AgentServer, DEFAULT_MAX_FRAME, decodeFrame, type PlainRequest } from "@provium/protocol";
import { toFailure } from "./errors";
import { files, type WholeIo } from "./files";
import { namespace } from "./namespace";
import { guestUptimeMs, helloReply, warmHello } from "./hello";
import { traceLine } from "./boot-trace";
import { startupOver } from "./jit-policy";
import { hasLibc, readable } from "./rawcalls";
import { GC_AFTER_BYTES, GC_IDLE_MS, TrafficSinceGc } from "./idle-gc";
import { SLOT_BYTES, LOCAL_REQUESTS, lockWrites, unlockWrites, slotView } from "./port-shared";

/** Frames up to this size are read whole and looked at (a whole 8 MiB piece of a file
 *  write, with room to spare); larger ones stream to the main thread. */
export const LOOK_MAX = 8 * 1024 * 1024 + 64 * 1024;
const AHEAD = 64 * 1024;
const KEPT = 1024 * 1024 + 64 * 1024;

// One buffer the reader thread keeps for the bytes it handles one frame at a time: a frame's
// body up to KEPT bytes, then, for a whole read outside a batch, the data of its reply. Each use
// is over before the next begins: a body is decoded (a read's request holds no bytes of it) or
// copied on before the reply is built, and the reply is written before the next frame is read.
let kept: Uint8Array | null = null;
const keptView = (n: number) => (n <= KEPT ? (kept ??= new Uint8Array(KEPT)).subarray(0, n) : null);
const QUICK_FILE_OPS = new Set(["stat", "listdir", "mkdir", "unlink", "rename"]);

/** Whether the reader thread answers this request itself. Only in the root namespace: workers
 *  (their ids, whether they are open) are known to the main thread. */
export function isQuick(req: PlainRequest): boolean {
  const op = req.op;
  if (!op || req.worker) return false;
  if (op.hello) return true;
  if (op.files) {
    const f = op.files;
    for (const k in f) {
      // A regular file never blocks in open or I/O; a FIFO, a device or a /proc file of size
      // 0 (/proc/kmsg) may, and that waiting belongs on the main thread.
      if (k === "readFile") return regular(f.readFile!.path!, false);
      if (k === "writeFile") return regular(f.writeFile!.path!, true);
      return QUICK_FILE_OPS.has(k);
    }
    return false;
  }
  return !!op.batch && op.batch.length > 0 && op.batch.every(isQuick);
}

function regular(path: string, orNew: boolean): boolean {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st ? st.isFile() && (orNew || st.size > 0) : orNew;
  } catch {
    return false; // the main thread's open says what is wrong
  }
}

export interface RouterIo {
  /** read(2) into buf[at, at+len): bytes read, 0 while no host is connected. Blocks. */
  read(buf: Uint8Array, at: number, len: number): number;
  /** Hands bytes of frames that are not quick to the main thread, in order. */
  forward(bytes: Uint8Array, flush: boolean): void;
  /** Where the next forwarded bytes go (to read into them without a copy), then how many went. */
  room(): Uint8Array;
  commit(n: number, flush: boolean): void;
  /** Answers a quick request. */
  answer(req: PlainRequest): void;
}

/**
 * Reads frame after frame: the 4-byte length, then a small body whole (decoded; answered when
 * quick, else forwarded) or a large body in pieces straight on. Small reads take what the port
 * has (one read(2) for a small frame, and the next ones may come with it); a large body is read
 * into the main thread's slot directly, never past its end. A bad length is forwarded like any
 * frame: the main thread's decoder refuses it and ends the connection.
 */
export class FrameRouter {
  private head = new Uint8Array(4);
  private ahead = new Uint8Array(AHEAD); // read but not yet taken: [start, end)
  private start = 0;
  private end = 0;

  constructor(private readonly io: RouterIo) {}

  /** Bytes read ahead, not yet routed. */
  get pending() {
    return this.end - this.start;
  }

  /** The next `len` bytes, as a view of what was read ahead when they are all there, else
   *  copied into `into`. */
  private take(len: number, into: () => Uint8Array): Uint8Array {
    if (this.end - this.start >= len) return this.ahead.subarray(this.start, (this.start += len));
    const out = into();
    for (let at = 0; at < len; ) {
      if (this.start === this.end) {
        // A large rest goes straight where it belongs (never past the frame).
        if (len - at >= AHEAD) {
          at += this.io.read(out, at, len - at);
          continue;
        }
        this.start = 0;
        this.end = this.io.read(this.ahead, 0, AHEAD);
      }
      const n = Math.min(len - at, this.end - this.start);
      out.set(this.ahead.subarray(this.start, (this.start += n)), at);
      at += n;
    }
    return out;
  }

  /** One frame; false once the stream cannot be read on (a bad length). */
  next(): boolean {
    const head = this.head;
    const h = this.take(4, () => head);
    if (h !== head) head.set(h); // a view of `ahead`, which reading the body may refill
    const len = new DataView(head.buffer).getUint32(0, true);
    if (len <= LOOK_MAX && len >= 8) {
      const body = this.take(len, () => keptView(len) ?? new Uint8Array(len));
      let req: PlainRequest | undefined;
      try {
        req = decodeFrame(body).request;
      } catch {
        /* the main thread's decoder says what is wrong with it */
      }
      if (req && isQuick(req)) this.io.answer(req);
      else {
        this.io.forward(head, false);
        this.io.forward(body, true);
      }
      return true;
    }
    this.io.forward(head, len > DEFAULT_MAX_FRAME || len < 8);
    // The main thread refuses a bad length and ends the connection: nothing after it is a frame.
    if (len > DEFAULT_MAX_FRAME || len < 8) return false;
    const early = Math.min(len, this.end - this.start);
    this.io.forward(this.ahead.subarray(this.start, (this.start += early)), early === len);
    for (let left = len - early; left > 0; ) {
      const room = this.io.room();
      const n = this.io.read(room, 0, Math.min(left, room.byteLength));
      left -= n;
      this.io.commit(n, left === 0);
    }
    return true;
  }
}

/** The worker: wires a FrameRouter to the port, the main thread's slots and the write lock. */
function serve({ fd, shared, trace }: { fd: number; shared: SharedArrayBuffer; trace?: boolean }) {
  startupOver();
  if (trace) traceLine("agent reader serves", guestUptimeMs());
  const ctl = new Int32Array(shared, 0, 8);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  let slot = 0;
  let fill = 0;
  let out = slotView(shared, slot);
  const publish = () => {
    Atomics.store(ctl, 2 * slot + 1, fill);
    Atomics.store(ctl, 2 * slot, 1);
    Atomics.notify(ctl, 2 * slot);
    slot ^= 1;
    fill = 0;
    out = slotView(shared, slot);
    Atomics.wait(ctl, 2 * slot, 1); // until the main thread is done with this slot
  };
  // A whole read outside a batch goes into the kept buffer (no fresh 1 MiB to fault in, ~1 ms
  // under TCG). In a batch, the replies of several reads are out at once: each gets its own.
  let oneAtATime = true;
  const freshIo: WholeIo = { open: openSync, alloc: (n) => Buffer.allocUnsafe(n) };
  const keptIo: WholeIo = { open: openSync, alloc: (n) => keptView(n) ?? Buffer.allocUnsafe(n) };
  const handle = (req: PlainRequest) => {
    if (req.op!.hello) return helloReply(req.op!.hello);
    const r = files(req.op!.files!, namespace(0), oneAtATime ? keptIo : freshIo);
    // isQuick saw a regular file; one that became a FIFO or device since would need the
    // event loop, which this thread never runs.
    if (r instanceof Promise) throw Object.assign(new Error("the file changed type while it was opened; try again"), { code: "EAGAIN" });
    return r;
  };
  const traffic = new TrafficSinceGc();
  const server = new AgentServer(
    {
      write: (bytes) => {
        for (let at = 0; at < bytes.byteLength; ) at += writeSync(fd, bytes, at, bytes.byteLength - at);
        traffic.add(bytes.byteLength);
      },
      close() {},
    },
    handle,
    toFailure,
  );
  // After the boot hello, hello's path is warmed (hello.ts) once no request is waiting. All at
  // once: warmed in steps between requests, the first answer after a restore took ~25% longer.
  let warmed = false;
  let warmPending = false;
  const canPoll = hasLibc();
  const router = new FrameRouter({
    read(buf, at, len) {
      if (warmPending && !(canPoll && readable(fd))) {
        warmPending = false;
        warmHello(handle);
      }
      if (traffic.bytes >= GC_AFTER_BYTES && canPoll && !readable(fd, GC_IDLE_MS)) traffic.collect();
      for (;;) {
        let n = 0;
        try {
          n = readSync(fd, buf, at, len, null);
        } catch {
          /* EINTR and the like: try again */
        }
        if (n > 0) {
          traffic.add(n);
          return n;
        }
        Atomics.wait(nap, 0, 0, 5); // no host connected (before it attaches, around a restore)
      }
    },
    forward(bytes, flush) {
      for (let at = 0; at < bytes.byteLength; ) {
        const n = Math.min(bytes.byteLength - at, SLOT_BYTES - fill);
        out.set(bytes.subarray(at, at + n), fill);
        at += n;
        this.commit(n, false);
      }
      if (flush && fill > 0) publish();
    },
    room: () => out.subarray(fill),
    commit(n, flush) {
      fill += n;
      if (fill === SLOT_BYTES || (flush && fill > 0)) publish();
    },
    answer(req) {
      Atomics.add(ctl, LOCAL_REQUESTS, 1);
      oneAtATime = !req.op!.batch;
      lockWrites(ctl);
      try {
        server.serve(req);
      } finally {
        unlockWrites(ctl);
      }
      if (req.op!.hello && !warmed) {
        warmed = true;
        warmPending = true;
      }
    },
  });
  for (;;) {
    try {
      if (!router.next()) return;
    } catch (e) {
      // Answering failed after the frame was read whole (the port refused the reply): the
      // stream is still in step, so read on.
      console.error("provium-agent: port reader:", e);
    }
  }
}

declare const self: Worker;
if (!Bun.isMainThread) self.onmessage = (e: MessageEvent) => serve(e.data);
