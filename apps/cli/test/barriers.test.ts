import { describe, expect, test } from "bun:test";
import { Barriers } from "../src/runner/barriers";

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
    expect(await b.arrive({ name: "solo", count: 1, timeout: 5 })).toBe(1);
  });

  test("labs and names are separate barriers; a different count is refused", async () => {
    const b = new Barriers();
    const p = b.arrive({ lab: 1, name: "x", count: 2, timeout: 0.1 }).catch((e) => e);
    const q = b.arrive({ lab: 2, name: "x", count: 2, timeout: 0.1 }).catch((e) => e);
    expect(() => b.arrive({ lab: 1, name: "x", count: 3, timeout: 1 })).toThrow("barrier 'x' is waiting for 2 parties; this party says 3");
    expect((await p).message).toContain("1 of 2 parties arrived");
    expect((await q).message).toContain("1 of 2 parties arrived");
  });

  test("a timeout breaks the barrier for every waiting party", async () => {
    const b = new Barriers();
    const first = b.arrive({ name: "m", count: 3, timeout: 0.05 }).catch((e) => e);
    const second = b.arrive({ name: "m", count: 3, timeout: 10 }).catch((e) => e);
    expect((await first).message).toBe("barrier 'm' timed out after 0.05 s: 2 of 3 parties arrived");
    expect((await second).message).toBe("barrier 'm' timed out after 0.05 s: 2 of 3 parties arrived");
    // a new party starts a fresh barrier
    const fresh = b.arrive({ name: "m", count: 2, timeout: 5 });
    await Promise.all([fresh, b.arrive({ name: "m", count: 2, timeout: 5 })]);
  });
});
