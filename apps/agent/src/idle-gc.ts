// Garbage from large transfers. JSC collects when its own heap heuristics say so, and they do not
// see the guest running short: after a bench-like workload, dead transfer buffers once held
// ~330 MB of a 512 MiB guest, and snapshots carried 20 MB more (not every run; see
// docs/performance.md).
// So once a thread has moved GC_AFTER_BYTES through the port, it collects as soon as the port
// has been quiet for GC_IDLE_MS: between a test's ops, or before a snapshot (a save first waits
// for the guest to go idle, so the collection is over before the state is taken).
export const GC_AFTER_BYTES = 8 << 20;
export const GC_IDLE_MS = 50;

/** Bytes moved since this thread last collected. */
export class TrafficSinceGc {
  bytes = 0;
  add(n: number): boolean {
    return (this.bytes += n) >= GC_AFTER_BYTES;
  }
  collect() {
    this.bytes = 0;
    Bun.gc(true);
  }
}
