import { describe, expect, test } from "bun:test";
import { CapacityPool } from "../src/capacity";

const vcpu = (cpus: number) => ({ memoryMiB: 512, cpus });

describe("capacity pool", () => {
  test("a request that fits waits for room and is granted when it is released", async () => {
    const pool = new CapacityPool({ memoryMiB: 4096, cpus: 2 });
    await pool.acquire(vcpu(2), "other file");
    let granted = false;
    const mine = pool.acquire(vcpu(1), "file").then(() => (granted = true));
    await Bun.sleep(5);
    expect(granted).toBe(false);
    pool.release(vcpu(2), "other file");
    await mine;
    expect(granted).toBe(true);
  });

  test("what a file still waits for counts: a lab that can never fit fails at once, not at the file timeout", async () => {
    const pool = new CapacityPool({ memoryMiB: 4096, cpus: 2 });
    await pool.acquire(vcpu(2), "other file"); // the pool is busy: the lab's first two requests wait
    const first = pool.acquire(vcpu(1), "lab file");
    const second = pool.acquire(vcpu(1), "lab file");
    const third = pool.acquire(vcpu(1), "lab file");
    await expect(third).rejects.toThrow(
      "needs 512 MiB and 1 vCPUs (with the 1024 MiB and 2 vCPUs this file already holds or is acquiring), which exceeds pool total: the host pool has 4096 MiB and 2 vCPUs in all (see --mem and --cpu-overcommit)",
    );
    pool.release(vcpu(2), "other file");
    await Promise.all([first, second]);
    // once the file gives its shares back, the same request fits again
    pool.release(vcpu(1), "lab file");
    pool.release(vcpu(1), "lab file");
    await pool.acquire(vcpu(2), "lab file");
    expect(pool.available).toEqual({ memoryMiB: 3584, cpus: 0 });
  });

  test("different files do not count against each other's limit", async () => {
    const pool = new CapacityPool({ memoryMiB: 4096, cpus: 2 });
    await pool.acquire(vcpu(2), "a");
    const b = pool.acquire(vcpu(2), "b"); // waits for a, can fit once a is done
    pool.release(vcpu(2), "a");
    await b;
  });
});
