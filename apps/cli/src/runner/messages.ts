// Every message between the pool (main thread) and a runner worker, both ways: one typed set,
// so each side's handler is checked against what the other sends.
import type { Amount } from "@provium/host-runtime";
import type { RunEvent } from "../events";
import type { Config } from "../config";
import type { Selection } from "./selection";
import type { MatrixEntry } from "../matrix";

export interface WorkerInit {
  config: Config;
  cacheDir: string;
  accel: "kvm" | "tcg";
  selection: Selection;
  fileTimeoutS: number;
  agentDeadlineMs: number;
  /** The run's vm:cid() counter, shared by every worker. */
  cids: SharedArrayBuffer;
  /** --debug: a failed test opens a prompt on its live VMs (lines through the pool's terminal). */
  debug?: boolean;
  /** --gdb: QEMU's gdbstub on a unix socket per VM (with --debug, a booting VM waits for the debugger). */
  gdb?: boolean;
}

export type ToWorker =
  | { kind: "init"; init: WorkerInit }
  /** a test file, under a matrix entry's kernel when given */
  | { kind: "file"; path: string; matrix?: MatrixEntry }
  /** The run is being interrupted: kill the VMs, answer "stopped". */
  | { kind: "stop" }
  | { kind: "capacity_reply"; id: number; error?: string }
  /** --debug: the user's line for the prompt (null: end of input). */
  | { kind: "debug_line"; line: string | null };

export type FromWorker =
  | { kind: "event"; event: RunEvent }
  | { kind: "file_done"; path: string }
  | { kind: "stopped" }
  | { kind: "capacity_acquire"; id: number; want: Amount }
  | { kind: "capacity_release"; id: number }
  /** --debug: show `prompt` and send the next line of the terminal's input. */
  | { kind: "debug_read"; prompt: string }
  | { kind: "debug_write"; text: string };

/** Typed postMessage for either side. */
export const send = <M extends ToWorker | FromWorker>(to: { postMessage(m: unknown): void }, m: M) => to.postMessage(m);
