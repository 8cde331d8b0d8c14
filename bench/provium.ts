// Provium's side of `bun run bench`: one guest of the `minimal` profile, driven through the
// host path tests use: the GuestOps of apps/cli/src/runner/ops (the request a Lua call
// builds, the pieces of a large file, the reply shaping, the drain of large output) over
// the runner's AgentClient. What a test sees is this plus the Lua bridge (~11 us a call).
import type { Op, Reply } from "@provium/protocol";
import type { GuestOp, OpContext } from "../apps/cli/src/runner/ops/guest-op";
import { failure } from "../apps/cli/src/runner/ops/guest-op";
import { execOps, agentOps } from "../apps/cli/src/runner/ops/exec";
import { fileOps } from "../apps/cli/src/runner/ops/files";
import type { GuestVm } from "../apps/cli/src/runner/guest";

export const sh = (cmd: string) => ({ cmd: { argv: ["/bin/sh", "-c", cmd] } }); // as vm:run(cmd) builds it

export class ProviumDriver {
  readonly ctx: OpContext;
  constructor(readonly vm: GuestVm) {
    this.ctx = { vm, worker: 0 };
  }

  private async send(req: Op, what: string): Promise<Reply> {
    const r = await this.vm.ready().request(req, 0);
    const err = failure(r, what);
    if (err) throw err;
    return r;
  }

  /** One guest op alone, as FileSession.guest runs it. */
  async call(op: GuestOp, args: any): Promise<any> {
    const what = op.describe(args);
    if (op.run) return op.run(args, this.ctx, (req) => this.send(req, what));
    return op.reply(await this.send(op.request(args, this.ctx), what), args, this.ctx);
  }

  /** vm:batch: one request for all, each reply shaped as FileSession.batch does. */
  async batch(items: [GuestOp, any][]): Promise<unknown[]> {
    const r = await this.send({ batch: items.map(([op, args], i) => ({ id: i + 1, worker: 0, op: op.request(args, this.ctx) })) }, "batch");
    return Promise.all(
      r.batch!.map(async (sub, i) => {
        const [op, args] = items[i]!;
        const e = failure(sub, op.describe(args));
        if (e) return { err: e.message };
        return { ok: await op.reply(sub, args, this.ctx) };
      }),
    );
  }

  stat(path: string) {
    return this.call(fileOps.stat!, { path });
  }
  /** The agent's `stats` op: answered by the protocol server itself, no handler, no syscall. */
  noop() {
    return this.call(agentOps.agent_requests!, {});
  }
  run(cmd: string): Promise<{ exit_code: number; stdout: Uint8Array; stderr: Uint8Array }> {
    return this.call(execOps.run!, sh(cmd));
  }
  readFile(path: string): Promise<Uint8Array> {
    return this.call(fileOps.read_file!, { path });
  }
  writeFile(path: string, data: Uint8Array) {
    return this.call(fileOps.write_file!, { path, data });
  }
}

export const statOp = fileOps.stat!;
