// A thread of the agent for raw calls (rawcalls.ts): a call that blocks blocks this thread only.
import { invokeRaw } from "./raw-invoke";
import { startupOver } from "./jit-policy";

declare const self: Worker;
if (!Bun.isMainThread) {
  // The thread starts with the executable's held-back JIT (jit-policy.ts): set the normal one back.
  startupOver();
  self.onmessage = (e: MessageEvent) => {
    try {
      postMessage(invokeRaw(e.data));
    } catch (err) {
      postMessage({ error: String((err as Error)?.message ?? err) });
    }
  };
}
