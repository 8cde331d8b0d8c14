// A hostile agent that sends part of a frame and stops fails the boot saying so (it used to
// read as a plain "did not answer"); one that sends garbage fails naming the bad frame; the
// next file passes.
import { expect, test } from "bun:test";
import { hostileGuest } from "../attacks/hostile-guest";

test("an unfinished frame and garbage from the agent fail the boot naming them; the run goes on", async () => {
  const [r] = await hostileGuest({ rounds: 1, modes: ["unfinished", "hello, then garbage"] });
  expect(r!.notes).toEqual([]);
  expect([r!.tries, r!.namedFailures, r!.hangs, r!.leaks]).toEqual([3, 3, 0, 0]);
}, 180_000);
