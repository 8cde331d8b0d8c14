// Tails: a producer that follows a file and pushes what is appended into a ByteStream.
//
// A regular file is polled (fstat, then pread from our own offset; inotify is unreliable on
// some filesystems and a short poll costs little), so the tail never moves anyone's cursor.
// Anything else (a pipe, a tty, /dev/console) is read when poll(2) says a read will not
// block; such reads consume, as any reader of a pipe does. The stream owns its own
// descriptor, so closing the file it came from does not end it; closing the stream does.
import * as fs from "node:fs";
import type { Namespace } from "./namespace";
import { ByteStream } from "./streams";
import { dupFd, hasLibc, lseek, readable, SEEK_CUR } from "./rawcalls";

const POLL_MS = 25;
const CHUNK = 256 * 1024;

/** Follows fd (which the tail owns and closes) from `start`; returns the stream's handle. */
function follow(ns: Namespace, fd: number, start: number | null): number {
  let stopped = false;
  const stream = new ByteStream(undefined, () => (stopped = true));
  const handle = ns.add(stream);
  const regular = fs.fstatSync(fd).isFile();
  let pos = start ?? 0;
  const canPoll = hasLibc();
  void (async () => {
    const buf = Buffer.allocUnsafe(CHUNK);
    try {
      while (!stopped) {
        let got = 0;
        if (regular) {
          const size = fs.fstatSync(fd).size;
          if (size < pos) pos = 0; // truncated: follow the new contents from their start
          while (!stopped && pos < size) {
            const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
            if (n <= 0) break;
            pos += n;
            got += n;
            await stream.push(Uint8Array.prototype.slice.call(buf, 0, n));
          }
        } else if (!canPoll || readable(fd)) {
          let n: number;
          try {
            n = canPoll ? fs.readSync(fd, buf, 0, CHUNK, null) : await readAsync(fd, buf);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "EAGAIN") n = -1; // O_NONBLOCK and raced
            else throw e;
          }
          if (n === 0) break; // the writers are gone: end of stream
          if (n > 0) {
            got += n;
            await stream.push(Uint8Array.prototype.slice.call(buf, 0, n));
          }
        }
        if (!got) await Bun.sleep(POLL_MS);
      }
    } catch {
      /* the file went bad (EIO, ...): end the stream */
    } finally {
      stream.end();
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  })();
  return handle;
}

function openAsync(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, (e, fd) => (e ? reject(e) : resolve(fd))));
}

function readAsync(fd: number, buf: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, buf.byteLength, null, (e, n) => (e ? reject(e) : resolve(n))));
}

/** vm:tail_file: from byte `start`, or with `fromEnd` from `start` bytes before the end (0:
 *  what is appended from now on; clamped at byte 0). */
export async function startPathTail(ns: Namespace, path: string, fromEnd: boolean, start: number): Promise<number> {
  // O_NONBLOCK: opening a FIFO does not wait for a writer.
  const fd = await openAsync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    const st = fs.fstatSync(fd);
    return follow(ns, fd, fromEnd ? Math.max(0, st.size - start) : start);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** vm:fd_stream / file:tail_stream: follows the agent's descriptor fd from its cursor. */
export function startFdTail(ns: Namespace, fd: number): number {
  const own = dupFd(fd);
  try {
    const regular = fs.fstatSync(own).isFile();
    return follow(ns, own, regular ? lseek(own, 0, SEEK_CUR) : null);
  } catch (e) {
    fs.closeSync(own);
    throw e;
  }
}
