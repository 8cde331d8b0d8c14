import { describe, expect, test } from "bun:test";
import { Barriers } from "../src/barriers";

describe("barriers", () => {
  test("parties meet when count arrived; the barrier then resets", async () => {
    const b = new Barriers();
    const a = b.arrive({ name: "x", count: 2, timeout: 5 });
    let done = false;
    void a.then(() => (done = true));
    await Bun.sleep(10);
    expect(done).toBe(false);
    await Promise.all([a, b.arrive({ name: "x", count: 2, timeout: 5 })]);
    const again = b.arrive({ name: "x", count: 2, timeout: 5 });
    await Promise.all([again, b.arrive({ name: "x", count: 2, timeout: 5 })]);
    expect(await b.arrive({ name: "solo", count: 1, timeout: 5 })).toBe(true);
  });

  test("labs and names are separate barriers; a different count is refused", async () => {
    const b = new Barriers();
    const p = b.arrive({ lab: 1, name: "x", count: 2, timeout: 0.1 });
    const q = b.arrive({ lab: 2, name: "x", count: 2, timeout: 0.1 });
    expect(() => b.arrive({ lab: 1, name: "x", count: 3, timeout: 1 })).toThrow("barrier 'x' is waiting for 2 parties; this party says 3");
    expect(await p).toBe(false);
    expect(await q).toBe(false);
  });

  test("a timeout breaks the barrier: every waiting party gets false", async () => {
    const b = new Barriers();
    const first = b.arrive({ name: "m", count: 3, timeout: 0.05 });
    const second = b.arrive({ name: "m", count: 3, timeout: 10 });
    expect(await first).toBe(false);
    expect(await second).toBe(false);
    // a new party starts a fresh barrier
    const fresh = b.arrive({ name: "m", count: 2, timeout: 5 });
    await Promise.all([fresh, b.arrive({ name: "m", count: 2, timeout: 5 })]);
  });
});
