// Shared test setup. The Debian kernel download is shared across runs (it lives in the normal
// cache, or $PROVIUM_TEST_KERNEL_CACHE); everything else uses fresh temp dirs.
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { cacheRoot, ensureDebianKernel, type DebianKernel } from "../src/index";

export const FIXTURES = path.join(import.meta.dir, "fixtures");
export const HELLO_AGENT = path.join(FIXTURES, "hello-agent.sh");
const KERNEL_CACHE = process.env.PROVIUM_TEST_KERNEL_CACHE ?? cacheRoot();

let kernelP: Promise<DebianKernel> | null = null;
export function sharedKernel(): Promise<DebianKernel> {
  kernelP ??= ensureDebianKernel({ cacheDir: KERNEL_CACHE });
  return kernelP;
}

const tempDirs: string[] = [];
export function tempDir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `provium-vmm-test-${tag}-`));
  tempDirs.push(d);
  return d;
}
/** Remove every tempDir() made so far (call from afterAll). */
export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** Connect to a unix socket (retrying until it exists) and resolve with the first line. */
export function readFirstLine(socketPath: string, reply?: string, timeoutMs = 30_000): Promise<{ line: string; sock: net.Socket }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line on ${socketPath} within ${timeoutMs} ms`)), timeoutMs);
    const s = net.createConnection(socketPath);
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i >= 0) {
        clearTimeout(timer);
        if (reply !== undefined) s.write(reply);
        resolve({ line: buf.slice(0, i), sock: s });
      }
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** True when no such process runs (a zombie awaiting its reaper counts as gone: it is dead). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}
