// A file's shares of host capacity: lab:claim reserves some up front, and a boot takes its
// share from that claim when it has room, else from the run's pool.
import type { Amount } from "./capacity";
import { parseMemory } from "./memory-size";

export type Acquire = (want: Amount) => Promise<() => void>;

export class CapacityShares {
  private claim: { left: Amount; release: () => void } | null = null;
  private taking = false;

  constructor(private readonly acquire: Acquire) {}

  // One claim a file (upstream: "one-shot"); one the pool could never grant fails at once.
  async take(a: { memory?: unknown; cpus?: unknown }) {
    if (this.claim || this.taking) throw new Error("lab claim already taken for this file (a claim is one-shot)");
    const want = { memoryMiB: a.memory == null ? 0 : parseMemory(a.memory, "claim memory"), cpus: a.cpus == null ? 0 : Number(a.cpus) };
    if (!Number.isInteger(want.cpus) || want.cpus < 0) throw new Error(`claim: cpus must be a non-negative integer, got ${a.cpus}`);
    this.taking = true;
    let release: () => void;
    try {
      release = await this.acquire(want);
    } catch (e) {
      throw new Error(`lab claim exceeds total pool budget: it ${(e as Error).message}`);
    } finally {
      this.taking = false;
    }
    this.claim = { left: { ...want }, release };
  }

  /** Resolves to the share's release (idempotent). */
  reserve(want: Amount): Promise<() => void> {
    const claim = this.claim;
    if (claim && want.memoryMiB <= claim.left.memoryMiB && want.cpus <= claim.left.cpus) {
      claim.left.memoryMiB -= want.memoryMiB;
      claim.left.cpus -= want.cpus;
      let done = false;
      return Promise.resolve(() => {
        if (done) return;
        done = true;
        claim.left.memoryMiB += want.memoryMiB;
        claim.left.cpus += want.cpus;
      });
    }
    return this.acquire(want);
  }

  releaseClaim() {
    this.claim?.release();
    this.claim = null;
  }
}
