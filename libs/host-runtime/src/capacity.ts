// Host capacity (memory and vCPUs) shared by every runner worker, kept on the main thread.
// A boot, or a lab:claim, waits until its share fits; one that could never fit fails at once.
import { availableParallelism, totalmem } from "node:os";

export interface Amount {
  memoryMiB: number;
  cpus: number;
}

// vCPUs the capacity pool allows per host core. A guest's vCPU is idle between ops: four idle
// minimal guests under TCG used 0.02-0.07 of a host core in all (docs/running.md), so a
// whole core per vCPU left a 2-core CI runner unable to boot a 3-VM lab. Memory stays strict.
export const DEFAULT_CPU_OVERCOMMIT = 4;

/** This host's capacity: 80% of its memory (unless given) and `overcommit` vCPUs a core. */
export function hostCapacity(o: { memoryMiB?: number; overcommit?: number } = {}): Amount {
  return {
    memoryMiB: o.memoryMiB ?? Math.floor((totalmem() / 1048576) * 0.8),
    cpus: Math.max(1, Math.floor(availableParallelism() * (o.overcommit ?? DEFAULT_CPU_OVERCOMMIT))),
  };
}

const NONE: Amount = { memoryMiB: 0, cpus: 0 };
const plus = (a: Amount, b: Amount, sign = 1): Amount => ({ memoryMiB: a.memoryMiB + sign * b.memoryMiB, cpus: a.cpus + sign * b.cpus });

export class CapacityPool {
  private free: Amount;
  private waiting: { want: Amount; grant: () => void }[] = [];
  // Per holder (a runner worker, i.e. the file it runs): what it holds plus what it waits for.
  private owned = new Map<unknown, Amount>();

  constructor(readonly total: Amount) {
    this.free = { ...total };
  }

  /**
   * Resolves when granted. Rejects at once when `want`, on top of what the same holder
   * already holds or is still acquiring (a file's VMs live until the file ends, and a lab's
   * boot asks for all its VMs at once), could never fit the pool: it would wait forever.
   */
  acquire(want: Amount, holder?: unknown): Promise<void> {
    const before = (holder !== undefined && this.owned.get(holder)) || NONE;
    const after = plus(before, want);
    if (after.memoryMiB > this.total.memoryMiB || after.cpus > this.total.cpus) {
      const already = before.memoryMiB || before.cpus ? ` (with the ${before.memoryMiB} MiB and ${before.cpus} vCPUs this file already holds or is acquiring)` : "";
      return Promise.reject(
        new Error(
          `needs ${want.memoryMiB} MiB and ${want.cpus} vCPUs${already}, which exceeds pool total: the host pool has ${this.total.memoryMiB} MiB and ${this.total.cpus} vCPUs in all (see --mem and --cpu-overcommit)`,
        ),
      );
    }
    if (holder !== undefined) this.owned.set(holder, after);
    return new Promise((grant) => {
      this.waiting.push({ want, grant });
      this.pump();
    });
  }

  /** Gives back a granted share (with the holder it was acquired for). */
  release(amount: Amount, holder?: unknown) {
    this.free = plus(this.free, amount);
    const owned = holder !== undefined && this.owned.get(holder);
    if (owned) {
      const left = plus(owned, amount, -1);
      if (left.memoryMiB <= 0 && left.cpus <= 0) this.owned.delete(holder);
      else this.owned.set(holder, left);
    }
    this.pump();
  }

  get available(): Amount {
    return { ...this.free };
  }

  // First come, first served: a large request is not starved by smaller ones behind it.
  private pump() {
    while (this.waiting.length) {
      const head = this.waiting[0]!;
      if (head.want.memoryMiB > this.free.memoryMiB || head.want.cpus > this.free.cpus) return;
      this.waiting.shift();
      this.free = plus(this.free, head.want, -1);
      head.grant();
    }
  }
}
