// Commands: `vm:run` to completion.
import type { GuestOps } from "./guest-op";

interface Command {
  argv: string[];
  env?: { name: string; value: string }[];
  env_clear?: boolean;
  cwd?: string;
  stdin?: string | Uint8Array;
  timeout_ms?: number;
}

const encoder = new TextEncoder();
export const bytes = (v: string | Uint8Array | undefined) => (typeof v === "string" ? encoder.encode(v) : v);

export const execOps: GuestOps = {
  run: {
    describe: ({ cmd }: { cmd: Command }) => `run ${cmd.argv.join(" ")}`,
    request: ({ cmd }: { cmd: Command }) => ({
      exec: { argv: cmd.argv, env: cmd.env, envClear: cmd.env_clear, cwd: cmd.cwd, stdin: bytes(cmd.stdin), timeoutMs: cmd.timeout_ms },
    }),
    reply: (r) => {
      const x = r.exec!;
      const base = { stdout: x.stdout ?? new Uint8Array(), stderr: x.stderr ?? new Uint8Array() };
      if (x.timedOut) return { ...base, exit_code: -2, status: "timed_out", timed_out: true };
      if (x.signal) return { ...base, exit_code: -1, status: "signalled", signal: x.signal, timed_out: false };
      return { ...base, exit_code: x.exitCode, status: "exited", timed_out: false };
    },
  },
};

export const agentOps: GuestOps = {
  agent_requests: {
    describe: () => "agent_requests",
    request: () => ({ stats: true }),
    reply: (r) => r.stats!.requests,
  },
};
