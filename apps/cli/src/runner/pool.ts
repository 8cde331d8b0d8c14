// Shards test files across runner workers (one file at a time each, like Bun's and
// Vitest's pools); forwards every event to the consumers. A crashed worker fails only
// the file it was running and is replaced.
import { relative } from "node:path";
import { event, type RunEvent } from "../events";
import type { Amount, CapacityPool } from "@provium/host-runtime";
import { send, type FromWorker, type ToWorker, type WorkerInit } from "./messages";
import type { MatrixEntry } from "../matrix";

/** A file to run, under a matrix entry when the run has a matrix (its events carry the entry's name). */
export interface FileJob {
  path: string;
  matrix?: MatrixEntry;
}

export interface PoolOptions {
  files: FileJob[];
  jobs: number;
  init: WorkerInit;
  onEvent: (e: RunEvent) => void;
  failFast?: boolean;
  capacity: CapacityPool;
  /** --debug: the terminal a failed test's prompt reads from and writes to. */
  debug?: { read(prompt: string): Promise<string | null>; write(text: string): void };
}

const workerEntry = new URL("./io-worker.ts", import.meta.url).href;
const toWorker = (w: Worker, m: ToWorker) => send(w, m);

export class Pool {
  private queue: FileJob[];
  private workers = new Set<Worker>();
  private stopped = false;
  private held = new Map<Worker, Map<number, Amount>>();

  constructor(private readonly o: PoolOptions) {
    this.queue = [...o.files];
  }

  async run() {
    const n = Math.max(1, Math.min(this.o.jobs, this.queue.length));
    await Promise.all(Array.from({ length: n }, () => this.lane()));
  }

  /** Stops dispatching new files; running ones finish. */
  drain() {
    this.queue = [];
  }

  /** Stops dispatching; running files are abandoned, their VMs killed, their workers ended. */
  async stop() {
    this.stopped = true;
    this.queue = [];
    await Promise.all(
      [...this.workers].map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 2000);
            w.addEventListener("message", (m: MessageEvent<FromWorker>) => m.data.kind === "stopped" && (clearTimeout(timer), resolve()));
            toWorker(w, { kind: "stop" });
          }),
      ),
    );
    for (const w of [...this.workers]) this.retire(w);
  }

  private spawn() {
    const w = new Worker(workerEntry);
    toWorker(w, { kind: "init", init: this.o.init });
    this.workers.add(w);
    // Capacity requests are answered here; what a worker holds is returned when it goes.
    // The worker is the holder: a request that could never fit beside what its file holds or
    // still waits for fails at once rather than waiting for the file timeout.
    const held = new Map<number, Amount>();
    w.addEventListener("message", (m: MessageEvent<FromWorker>) => {
      const d = m.data;
      if (d.kind === "capacity_acquire") {
        this.o.capacity.acquire(d.want, w).then(
          () => {
            if (!this.workers.has(w)) return this.o.capacity.release(d.want, w);
            held.set(d.id, d.want);
            toWorker(w, { kind: "capacity_reply", id: d.id });
          },
          (e) => toWorker(w, { kind: "capacity_reply", id: d.id, error: e.message }),
        );
      } else if (d.kind === "capacity_release" && held.has(d.id)) {
        this.o.capacity.release(held.get(d.id)!, w);
        held.delete(d.id);
      } else if (d.kind === "debug_read") {
        void (this.o.debug?.read(d.prompt) ?? Promise.resolve(null)).then((line) => toWorker(w, { kind: "debug_line", line }));
      } else if (d.kind === "debug_write") this.o.debug?.write(d.text);
    });
    this.held.set(w, held);
    return w;
  }

  // Ends a worker and returns the capacity its VMs held.
  private retire(w: Worker) {
    w.terminate();
    this.workers.delete(w);
    for (const a of this.held.get(w)?.values() ?? []) this.o.capacity.release(a, w);
    this.held.delete(w);
  }

  // One lane runs files back to back on one worker, replacing the worker if it dies.
  private async lane() {
    let w = this.spawn();
    while (!this.stopped && this.queue.length) {
      const { path, matrix } = this.queue.shift()!;
      const file = relative(process.cwd(), path) || path;
      const tag = matrix ? { matrix: matrix.name } : {};
      const onEvent = (e: RunEvent) => this.o.onEvent({ ...e, ...tag });
      onEvent(event("file_dispatched", { file }));
      const ok = await new Promise<boolean>((resolve) => {
        w.onmessage = (m: MessageEvent<FromWorker>) => {
          const d = m.data;
          if (d.kind === "event") {
            onEvent(d.event);
            if (this.o.failFast && (d.event.kind === "test_failed" || d.event.kind === "file_error")) this.stop();
          } else if (d.kind === "file_done") resolve(true);
        };
        w.onerror = (e) => {
          e.preventDefault?.();
          onEvent(event("file_error", { file, reason: `runner worker crashed: ${e.message}` }));
          onEvent(event("file_completed", { file }));
          resolve(false);
        };
        w.addEventListener("close", () => resolve(false));
        toWorker(w, { kind: "file", path, matrix });
      });
      if (!ok) {
        this.retire(w);
        if (!this.stopped) w = this.spawn();
      }
    }
    this.retire(w);
  }
}
