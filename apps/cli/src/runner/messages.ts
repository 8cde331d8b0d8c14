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
}

export type ToWorker =
  | { kind: "init"; init: WorkerInit }
  /** a test file, under a matrix entry's kernel when given */
  | { kind: "file"; path: string; matrix?: MatrixEntry }
  /** The run is being interrupted: kill the VMs, answer "stopped". */
  | { kind: "stop" }
  | { kind: "capacity_reply"; id: number; error?: string };

export type FromWorker =
  | { kind: "event"; event: RunEvent }
  | { kind: "file_done"; path: string }
  | { kind: "stopped" }
  | { kind: "capacity_acquire"; id: number; want: Amount }
  | { kind: "capacity_release"; id: number };

/** Typed postMessage for either side. */
export const send = <M extends ToWorker | FromWorker>(to: { postMessage(m: unknown): void }, m: M) => to.postMessage(m);
