// Commands: `vm:run` to completion.
import type { Reply } from "@provium/protocol";
import type { GuestOps, OpContext } from "./guest-op";

export interface Command {
  argv: string[];
  env?: { name: string; value: string }[];
  env_clear?: boolean;
  cwd?: string;
  stdin?: string | Uint8Array;
  timeout_ms?: number;
}

const encoder = new TextEncoder();
export const bytes = (v: string | Uint8Array | undefined) => (typeof v === "string" ? encoder.encode(v) : v);

export const execOps = {
  run: {
    describe: ({ cmd }: { cmd: Command }) => `run ${cmd.argv.join(" ")}`,
    request: ({ cmd }: { cmd: Command }) => ({
      exec: { argv: cmd.argv, env: cmd.env, envClear: cmd.env_clear, cwd: cmd.cwd, stdin: bytes(cmd.stdin), timeoutMs: cmd.timeout_ms },
    }),
    reply: (r, _args, ctx) => runResult(r.exec!, ctx),
  },
} satisfies GuestOps;

type ExecResult = NonNullable<Reply["exec"]>;

/** The Lua RunResult of an ExecResult: -1 signalled, -2 timed out. */
export async function runResult(x: ExecResult, ctx: OpContext) {
  const [stdout, stderr] = await Promise.all([
    x.stdoutRest ? drain(ctx, x.stdoutRest) : (x.stdout ?? new Uint8Array()),
    x.stderrRest ? drain(ctx, x.stderrRest) : (x.stderr ?? new Uint8Array()),
  ]);
  const base = { stdout, stderr };
  if (x.timedOut) return { ...base, exit_code: -2, status: "timed_out", timed_out: true };
  if (x.signal) return { ...base, exit_code: -1, status: "signalled", signal: x.signal, timed_out: false };
  return { ...base, exit_code: x.exitCode ?? 0, status: "exited", timed_out: false };
}

// Output too large for one reply was left in the agent as an ended stream: read it in
// pieces (other requests interleave with them), then close it.
const DRAIN_CHUNK = 8 * 1024 * 1024;
async function drain(ctx: OpContext, handle: number) {
  const agent = ctx.vm.ready();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const r = await agent.request({ streamRead: { handle, maxBytes: DRAIN_CHUNK, timeoutMs: 0 } }, ctx.worker);
      if (r.error) throw new Error(`reading command output: ${r.error.message}`);
      const d = r.streamData!;
      if (d.data?.byteLength) {
        parts.push(d.data);
        total += d.data.byteLength;
      }
      if (d.eof) break;
    }
  } finally {
    void agent.request({ streamClose: handle }, ctx.worker).catch(() => {});
  }
  return joinBytes(parts, total);
}

/** One buffer from pieces (no copy when there is one piece). */
export function joinBytes(parts: Uint8Array[], total: number): Uint8Array {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

export const agentOps = {
  agent_requests: {
    describe: () => "agent_requests",
    request: () => ({ stats: true }),
    reply: (r) => r.stats!.requests,
  },
} satisfies GuestOps;
