// Runner-worker side of the capacity pool: asks the main thread and waits for the grant.
import type { Amount } from "@provium/host-runtime";
import type { FromWorker, ToWorker } from "./messages";

let nextId = 1;
const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

export function onCapacityReply(m: Extract<ToWorker, { kind: "capacity_reply" }>) {
  const p = pending.get(m.id);
  if (!p) return;
  pending.delete(m.id);
  m.error ? p.reject(new Error(m.error)) : p.resolve();
}

/** Reserves `want`; the returned function gives it back (idempotent). */
export async function acquireCapacity(post: (m: FromWorker) => void, want: Amount): Promise<() => void> {
  const id = nextId++;
  await new Promise<void>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    post({ kind: "capacity_acquire", id, want });
  });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    post({ kind: "capacity_release", id });
  };
}
