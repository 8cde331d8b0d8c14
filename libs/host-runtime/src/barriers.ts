// lab:barrier(name, count, timeout): parties of one test file meet. Each party is one host
// call that resolves to true when `count` parties have arrived; the barrier then resets, so
// the same name can be used again. When a party's timeout passes, the barrier breaks: every
// party waiting on it gets false (a timeout is an outcome the test checks, not an error).
interface Party {
  resolve: (met: boolean) => void;
  timer: Timer;
}

interface Barrier {
  count: number;
  parties: Party[];
}

export class Barriers {
  private open = new Map<string, Barrier>();

  /** Resolves to true once `count` parties have arrived, false when a timeout broke it. */
  arrive(a: { lab?: unknown; name: string; count: number; timeout: number }): Promise<boolean> {
    const key = `${a.lab ?? ""}\0${a.name}`;
    const count = Number(a.count);
    if (!Number.isInteger(count) || count < 1) throw new Error(`barrier count must be a positive integer, got ${a.count}`);
    let b = this.open.get(key);
    if (b && b.count !== count)
      throw new Error(`barrier '${a.name}' is waiting for ${b.count} parties; this party says ${count}`);
    if (count === 1) return Promise.resolve(true);
    if (!b) this.open.set(key, (b = { count, parties: [] }));
    const barrier = b;
    return new Promise<boolean>((resolve) => {
      const party: Party = {
        resolve,
        timer: setTimeout(() => {
          if (this.open.get(key) === barrier) this.open.delete(key);
          for (const p of barrier.parties.splice(0)) {
            clearTimeout(p.timer);
            p.resolve(false);
          }
        }, a.timeout * 1000),
      };
      barrier.parties.push(party);
      if (barrier.parties.length === count) {
        this.open.delete(key);
        for (const p of barrier.parties) {
          clearTimeout(p.timer);
          p.resolve(true);
        }
      }
    });
  }

  close() {
    for (const b of this.open.values()) for (const p of b.parties) clearTimeout(p.timer);
    this.open.clear();
  }
}
