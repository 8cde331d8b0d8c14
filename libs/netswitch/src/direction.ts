// The frames of one direction (from -> to) under an impairment, in order: drop, then delay,
// then the bandwidth shaper. Each direction has its own shaper state, so a limit on a -> b
// does not slow b -> a.
import type { Impairment } from "./impairments";

/** What an idle shaped link may send at once: a few frames back to back, as on a real link. */
const BURST_BYTES = 16 * 1024;
/** Frames waiting for tokens beyond this are dropped (tail drop): TCP backs off as on a router. */
const QUEUE_BYTES = 256 * 1024;
/** Frames held by a delay beyond this are dropped: latency x rate is bounded (the guest is untrusted). */
const DELAYED_BYTES = 16 * 1024 * 1024;

export class Direction {
  /** ms (performance.now): when the shaped link is free for the next frame. A virtual clock,
   *  not a capped bucket: a timer that fires late (a loaded host) sends what is due at once,
   *  so the average rate holds; only an idle link is limited to a burst. */
  private nextFree = 0;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private bps = 0;
  private delayed = 0;

  /** `deliver` takes a frame the direction owns; `drop` counts one that went nowhere. */
  constructor(
    private readonly deliver: (frame: Uint8Array) => void,
    private readonly drop: () => void,
  ) {}

  /** Send `frame` (a copy the direction may keep) through `rule`. */
  send(frame: Uint8Array, rule: Impairment): void {
    if (rule.dropRate && Math.random() < rule.dropRate) return this.drop();
    const delay = (rule.delayMs ?? 0) + (rule.jitterMs ? (Math.random() * 2 - 1) * rule.jitterMs : 0);
    if (delay <= 0) return this.shape(frame, rule.bps ?? 0);
    if (this.delayed + frame.length > DELAYED_BYTES) return this.drop();
    this.delayed += frame.length;
    setTimeout(() => {
      this.delayed -= frame.length;
      this.shape(frame, rule.bps ?? 0);
    }, delay);
  }

  private shape(frame: Uint8Array, bps: number): void {
    this.bps = bps;
    if (!bps && !this.queue.length) return this.deliver(frame);
    if (this.queued + frame.length > QUEUE_BYTES) return this.drop();
    if (!this.queue.length && !this.timer) {
      // Idle: up to a burst's worth may go at once.
      const burstMs = bps ? (BURST_BYTES / (bps / 8)) * 1000 : 0;
      this.nextFree = Math.max(this.nextFree, performance.now() - burstMs);
    }
    this.queue.push(frame);
    this.queued += frame.length;
    if (!this.timer) this.pump();
  }

  private pump(): void {
    this.timer = null;
    const now = performance.now();
    while (this.queue.length && (!this.bps || this.nextFree <= now)) {
      const f = this.queue.shift()!;
      this.queued -= f.length;
      if (this.bps) this.nextFree += (f.length / (this.bps / 8)) * 1000;
      this.deliver(f);
    }
    if (this.queue.length) this.timer = setTimeout(() => this.pump(), Math.max(1, this.nextFree - now));
  }

  /** Drop what waits (the switch closes). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
    this.queued = 0;
  }
}
