// A test's (or a file's top level's) VM ops as they happen, for its end event: the last
// TIMELINE_MAX of them, and how many older ones were left out (a loop of 100k runs must not
// make an event of 100k records).
import type { OpRecord } from "@provium/host-runtime";

export const TIMELINE_MAX = 1000;

export class TimelineBuffer {
  private ops: OpRecord[] = [];
  private dropped = 0;

  push(r: OpRecord) {
    this.ops.push(r);
    if (this.ops.length > TIMELINE_MAX * 2) {
      this.dropped += this.ops.length - TIMELINE_MAX;
      this.ops = this.ops.slice(-TIMELINE_MAX);
    }
  }

  /** The event fields, without emptying the buffer. */
  fields(): { timeline?: OpRecord[]; timeline_dropped?: number } {
    const extra = Math.max(0, this.ops.length - TIMELINE_MAX);
    const dropped = this.dropped + extra;
    if (!this.ops.length) return {};
    return { timeline: extra ? this.ops.slice(extra) : [...this.ops], ...(dropped ? { timeline_dropped: dropped } : {}) };
  }

  /** The event fields; the buffer starts over. */
  take() {
    const f = this.fields();
    this.ops = [];
    this.dropped = 0;
    return f;
  }
}
