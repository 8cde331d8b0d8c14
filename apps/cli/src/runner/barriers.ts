// lab:barrier(name, count, timeout): parties of one test file meet. Each party is one host
// call that resolves when `count` parties have arrived; the barrier then resets, so the
// same name can be used again. When a party's timeout passes, the barrier breaks: every
// party waiting on it raises, naming how many had arrived.
interface Party {
  resolve: (v: number) => void;
  reject: (e: Error) => void;
  timer: Timer;
}

interface Barrier {
  count: number;
  parties: Party[];
}

export class Barriers {
  private open = new Map<string, Barrier>();

  /** Resolves with the number of parties once `count` have arrived. */
  arrive(a: { lab?: unknown; name: string; count: number; timeout: number }): Promise<number> {
    const key = `${a.lab ?? ""}\0${a.name}`;
    const count = Number(a.count);
    if (!Number.isInteger(count) || count < 1) throw new Error(`barrier count must be a positive integer, got ${a.count}`);
    let b = this.open.get(key);
    if (b && b.count !== count)
      throw new Error(`barrier '${a.name}' is waiting for ${b.count} parties; this party says ${count}`);
    if (count === 1) return Promise.resolve(1);
    if (!b) this.open.set(key, (b = { count, parties: [] }));
    const barrier = b;
    return new Promise<number>((resolve, reject) => {
      const party: Party = {
        resolve,
        reject,
        // A timeout breaks the barrier: every party waiting on it raises the same error.
        timer: setTimeout(() => {
          const why = new Error(`barrier '${a.name}' timed out after ${a.timeout} s: ${barrier.parties.length} of ${count} parties arrived`);
          if (this.open.get(key) === barrier) this.open.delete(key);
          for (const p of barrier.parties.splice(0)) {
            clearTimeout(p.timer);
            p.reject(why);
          }
        }, a.timeout * 1000),
      };
      barrier.parties.push(party);
      if (barrier.parties.length === count) {
        this.open.delete(key);
        for (const p of barrier.parties) {
          clearTimeout(p.timer);
          p.resolve(count);
        }
      }
    });
  }

  close() {
    for (const b of this.open.values()) for (const p of b.parties) clearTimeout(p.timer);
    this.open.clear();
  }
}
