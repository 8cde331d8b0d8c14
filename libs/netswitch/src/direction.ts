// The frames of one direction (from -> to) under an impairment, in order: drop, then delay,
// then the bandwidth shaper. Each direction has its own shaper state, so a limit on a -> b
// does not slow b -> a.
import type { Impairment } from "./impairments";

/** Burst of the token bucket: a few frames go out back to back, as on a real link. */
const BURST_BYTES = 16 * 1024;
/** Frames waiting for tokens beyond this are dropped (tail drop): TCP backs off as on a router. */
const QUEUE_BYTES = 256 * 1024;
/** Frames held by a delay beyond this are dropped: latency x rate is bounded (the guest is untrusted). */
const DELAYED_BYTES = 16 * 1024 * 1024;

export class Direction {
  private tokens = BURST_BYTES;
  private last = performance.now();
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
    this.queue.push(frame);
    this.queued += frame.length;
    if (!this.timer) this.pump();
  }

  private pump(): void {
    this.timer = null;
    const now = performance.now();
    if (!this.bps) this.tokens = Infinity;
    else this.tokens = Math.min(BURST_BYTES, this.tokens + ((now - this.last) / 1000) * (this.bps / 8));
    this.last = now;
    while (this.queue.length && this.tokens >= this.queue[0]!.length) {
      const f = this.queue.shift()!;
      this.queued -= f.length;
      this.tokens -= f.length;
      this.deliver(f);
    }
    if (this.tokens === Infinity) this.tokens = BURST_BYTES;
    if (this.queue.length) {
      const waitMs = ((this.queue[0]!.length - this.tokens) / (this.bps / 8)) * 1000;
      this.timer = setTimeout(() => this.pump(), Math.max(1, waitMs));
    }
  }

  /** Drop what waits (the switch closes). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
    this.queued = 0;
  }
}
