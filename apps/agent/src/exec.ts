// `exec`: run a program to completion, capture its output, enforce its timeout.
import type { PlainRequest } from "@provium/protocol";
import { constants } from "node:os";

type Exec = NonNullable<NonNullable<PlainRequest["op"]>["exec"]>;

// After the main process exits, background children may still hold its pipes open;
// we take what they wrote within this grace period and do not wait for them.
const PIPE_GRACE_MS = 100;

export function envFor(e: Pick<Exec, "env" | "envClear">) {
  const env: Record<string, string> = e.envClear ? {} : { ...process.env } as Record<string, string>;
  for (const v of e.env ?? []) env[v.name!] = v.value!;
  return env;
}

export function spawnOptions(e: Exec) {
  return { cmd: e.argv!, env: envFor(e), cwd: e.cwd || undefined, detached: true } as const;
}

async function readAll(stream: ReadableStream<Uint8Array>, until: Promise<unknown>) {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  let closed = false;
  const pump = (async () => {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      chunks.push(r.value);
    }
  })().finally(() => (closed = true));
  await Promise.race([pump, until.then(() => Bun.sleep(PIPE_GRACE_MS))]);
  if (!closed) reader.cancel().catch(() => {});
  return Buffer.concat(chunks);
}

/** `onSpawn` learns the pid of the started process (workers track their children). */
export async function exec(e: Exec, onSpawn?: (pid: number) => void) {
  if (!e.argv?.length) throw Object.assign(new Error("exec: empty argv"), { code: "EINVAL" });
  let proc;
  try {
    proc = Bun.spawn({ ...spawnOptions(e), stdin: e.stdin?.byteLength ? e.stdin : "ignore", stdout: "pipe", stderr: "pipe" });
  } catch (err) {
    // As a shell would: a program that cannot be started is exit status 127 (126 if not executable).
    const code = (err as NodeJS.ErrnoException).code;
    const msg = `provium-agent: ${e.argv[0]}: ${code === "ENOENT" ? "command not found" : (err as Error).message}\n`;
    return { exitCode: code === "EACCES" ? 126 : 127, signal: 0, timedOut: false, stdout: new Uint8Array(), stderr: Buffer.from(msg) };
  }
  onSpawn?.(proc.pid);
  let timedOut = false;
  const timer = e.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        killGroup(proc.pid, "SIGKILL");
      }, e.timeoutMs)
    : null;
  const exited = proc.exited;
  const [stdout, stderr] = await Promise.all([readAll(proc.stdout, exited), readAll(proc.stderr, exited), exited]);
  if (timer) clearTimeout(timer);
  const signal = proc.signalCode ? signalNumber(proc.signalCode) : 0;
  return { exitCode: proc.exitCode ?? -1, signal: timedOut ? 0 : signal, timedOut, stdout, stderr };
}

export function killGroup(pid: number, sig: NodeJS.Signals | number) {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export function signalNumber(name: string) {
  return (constants.signals as Record<string, number>)[name] ?? 0;
}
