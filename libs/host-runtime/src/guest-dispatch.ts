// Runs guest ops on a VM's agent: one op (maybe several round trips), or many in one batch.
// The session sends Lua's guest calls here, and bench/ measures this very path.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Op, Reply } from "@provium/protocol";
import type { GuestVm } from "./guest";
import { failure, type GuestOp, type OpContext } from "./ops/guest-op";
import { guestOps } from "./ops";

export class GuestDispatch {
  // Host files pushed into guests (push_file), for the fixture cache key: path and sha256.
  private pushed = new Map<string, string>();

  /** The host files this test file's push_file calls read (unless auto_dep = false). */
  hostDependencies(): { path: string; sha256: string }[] {
    return [...this.pushed].map(([path, sha256]) => ({ path, sha256 }));
  }

  private hostFile = (path: string, record: boolean): Uint8Array => {
    let data: Uint8Array;
    try {
      data = readFileSync(path);
    } catch (e) {
      throw new Error(`cannot read host file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (record) this.pushed.set(path, createHash("sha256").update(data).digest("hex"));
    return data;
  };

  private op(name: string): GuestOp {
    const op = (guestOps as Record<string, GuestOp>)[name];
    if (!op) throw new Error(`unknown guest op '${name}'`);
    return op;
  }

  private ctx(vm: GuestVm, worker = 0): OpContext {
    return { vm, worker, hostFile: this.hostFile };
  }

  // Failures of the connection itself are infrastructure errors: they name the VM and
  // show the console, since the guest or its agent is probably gone.
  private async send(ctx: OpContext, request: Op, what: string): Promise<Reply> {
    const agent = ctx.vm.ready();
    let r: Reply;
    try {
      r = await agent.request(request, ctx.worker);
    } catch (e) {
      throw await ctx.vm.gone(what, e as Error);
    }
    const err = failure(r, what);
    if (err) throw err;
    return r;
  }

  /** One guest op, as Lua's vm:NAME(...) runs it; raises "<op>: <message> (<ERRNO>)". */
  async call(vm: GuestVm, worker: number, name: string, args: any): Promise<unknown> {
    const op = this.op(name);
    const ctx = this.ctx(vm, worker);
    const what = op.describe(args);
    if (op.run) return op.run(args, ctx, (req) => this.send(ctx, req, what));
    return op.reply(await this.send(ctx, op.request(args, ctx), what), args, ctx);
  }

  /** vm:batch: one round trip for many ops; each result is {ok = value} or {err = message}. */
  async batch(vm: GuestVm, worker: number, items: { op: string; args: any }[]) {
    const ctx = this.ctx(vm, worker);
    const ops = items.map((it) => this.op(it.op));
    const r = await this.send(ctx, { batch: items.map((it, i) => ({ id: i + 1, worker, op: ops[i]!.request(it.args, ctx) })) }, "batch");
    return Promise.all(
      r.batch!.map(async (sub, i) => {
        const what = ops[i]!.describe(items[i]!.args);
        const e = failure(sub, what);
        if (e) return { err: e.message };
        try {
          return { ok: await ops[i]!.reply(sub, items[i]!.args, ctx) };
        } catch (x) {
          return { err: `${what}: ${(x as Error).message}` };
        }
      }),
    );
  }
}
