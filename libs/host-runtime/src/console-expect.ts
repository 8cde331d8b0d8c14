// console:expect(pattern, timeout): waits for a substring anywhere in what a VM's console
// printed since its QEMU started (upstream's semantics: earlier output counts, every call
// looks at the whole log). The log is searched once, then each new chunk with the bytes
// before it that a match could straddle.
import type { GuestVm } from "./guest";

export interface ExpectResult {
  found: boolean;
  /** the console ended (its QEMU exited) before the pattern came */
  ended: boolean;
  /** the last of the console, for the error when not found */
  tail: string;
}

const TAIL_BYTES = 300;

export async function consoleExpect(vm: GuestVm, log: () => Uint8Array, pattern: Uint8Array, timeoutMs: number): Promise<ExpectResult> {
  const tailOf = (b: Uint8Array) => Buffer.from(b.subarray(Math.max(0, b.length - TAIL_BYTES))).toString("utf8");
  if (vm.state === "dead") {
    const all = log(); // what a dead VM left
    return { found: Buffer.from(all).includes(pattern), ended: true, tail: tailOf(all) };
  }
  const qemu = vm.machine(); // raises naming the state (not booted, shut down)
  let window: Buffer = Buffer.alloc(0);
  let settle: ((r: ExpectResult) => void) | null = null;
  const done = new Promise<ExpectResult>((r) => (settle = r));
  const finish = (found: boolean, ended: boolean) => settle?.({ found, ended, tail: tailOf(window) });
  const look = (chunk: Uint8Array) => {
    window = Buffer.concat([window.subarray(Math.max(0, window.length - Math.max(pattern.length, TAIL_BYTES))), chunk]);
    if (window.includes(pattern)) finish(true, false);
  };
  // No chunk can arrive between subscribing and reading the log (both synchronous).
  const off = qemu.console.subscribe(look);
  const timer = setTimeout(() => finish(false, false), timeoutMs);
  void qemu.exited.then(() => finish(false, true));
  try {
    const all = Buffer.from(log());
    if (all.includes(pattern)) finish(true, false);
    else window = all.subarray(Math.max(0, all.length - Math.max(pattern.length, TAIL_BYTES)));
    return await done;
  } finally {
    off();
    clearTimeout(timer);
  }
}
