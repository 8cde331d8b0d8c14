// Host capacity (memory and vCPUs) shared by every runner worker, kept on the main thread.
// A boot, or a lab:claim, waits until its share fits; one that could never fit fails at once.
export interface Amount {
  memoryMiB: number;
  cpus: number;
}

export class CapacityPool {
  private free: Amount;
  private waiting: { want: Amount; grant: () => void }[] = [];

  constructor(readonly total: Amount) {
    this.free = { ...total };
  }

  /**
   * Resolves when granted. Rejects at once when `want`, on top of what the same holder
   * already has (a file's VMs live until the file ends), could never fit the pool.
   */
  acquire(want: Amount, heldBySameHolder: Amount = { memoryMiB: 0, cpus: 0 }): Promise<void> {
    const mem = want.memoryMiB + heldBySameHolder.memoryMiB;
    const cpus = want.cpus + heldBySameHolder.cpus;
    if (mem > this.total.memoryMiB || cpus > this.total.cpus) {
      const already = heldBySameHolder.memoryMiB || heldBySameHolder.cpus ? ` (with the ${heldBySameHolder.memoryMiB} MiB and ${heldBySameHolder.cpus} vCPUs this file already holds)` : "";
      return Promise.reject(
        new Error(
          `needs ${want.memoryMiB} MiB and ${want.cpus} vCPUs${already} but the host pool has ${this.total.memoryMiB} MiB and ${this.total.cpus} vCPUs in all (see --mem and --cpu-overcommit)`,
        ),
      );
    }
    return new Promise((grant) => {
      this.waiting.push({ want, grant });
      this.pump();
    });
  }

  release(amount: Amount) {
    this.free.memoryMiB += amount.memoryMiB;
    this.free.cpus += amount.cpus;
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
      this.free.memoryMiB -= head.want.memoryMiB;
      this.free.cpus -= head.want.cpus;
      head.grant();
    }
  }
}
