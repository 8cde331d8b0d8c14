// provium.trace on the kernel command line: guest-init prints its boot steps on the console
// with the guest's uptime, and exports PROVIUM_TRACE=1 to the agent, which adds its own (the
// process's start, its JS running, the port open, the reader thread serving). bench/images.ts
// turns them into the phases of a boot. The agent drops the variable from its environment
// (main.ts), so the commands it runs do not inherit it.
import { writeSync } from "node:fs";
import { guestUptimeMs } from "./hello";

export const tracing = process.env.PROVIUM_TRACE === "1";

/** One step, at `atMs` of guest uptime (default: now). */
export function bootTrace(what: string, atMs = guestUptimeMs()) {
  if (tracing) traceLine(what, atMs);
}

/** Written to stderr as it is (console.error adds colour codes on a terminal such as ttyS0). */
export function traceLine(what: string, atMs: number) {
  writeSync(2, `provium-trace: ${(atMs / 1000).toFixed(3)} ${what}\n`);
}
