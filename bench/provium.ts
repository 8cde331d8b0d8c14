// Provium's side of `bun run bench`: one guest driven through the very path tests use
// (GuestDispatch of @provium/lua-runtime: the request a Lua call builds, the pieces of a
// large file, the reply shaping, the drain of large output). What a test sees is this plus
// the Lua bridge (~11 us a call).
import { GuestDispatch, type GuestOpName, type GuestVm } from "@provium/host-runtime";

export const sh = (cmd: string) => ({ cmd: { argv: ["/bin/sh", "-c", cmd] } }); // as vm:run(cmd) builds it

export class ProviumDriver {
  private readonly dispatch = new GuestDispatch();
  constructor(readonly vm: GuestVm) {}

  /** One guest op alone, as vm:NAME(...) runs it. */
  call(op: GuestOpName, args: any): Promise<any> {
    return this.dispatch.call(this.vm, 0, op, args);
  }

  /** vm:batch: one request for all. */
  batch(items: [GuestOpName, any][]) {
    return this.dispatch.batch(this.vm, 0, items.map(([op, args]) => ({ op, args })));
  }

  stat(path: string) {
    return this.call("stat", { path });
  }
  /** The agent's `stats` op: answered by the protocol server itself, no handler, no syscall. */
  noop() {
    return this.call("agent_requests", {});
  }
  run(cmd: string): Promise<{ exit_code: number; stdout: Uint8Array; stderr: Uint8Array }> {
    return this.call("run", sh(cmd));
  }
  readFile(path: string): Promise<Uint8Array> {
    return this.call("read_file", { path });
  }
  writeFile(path: string, data: Uint8Array) {
    return this.call("write_file", { path, data });
  }
}
