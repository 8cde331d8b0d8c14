// The memory the port's two threads share: control words, then two slots of bytes going from
// the reader thread to the main thread (one fills while the other is read).
//
// control (Int32): [slot 0 full, slot 0 bytes, slot 1 full, slot 1 bytes, write lock, quick
// requests answered by the reader]
export const SLOT_BYTES = 1 << 20;
const CONTROL_BYTES = 32;
const WRITE_LOCK = 4;
export const LOCAL_REQUESTS = 5;

export function sharedMemory() {
  return new SharedArrayBuffer(CONTROL_BYTES + 2 * SLOT_BYTES);
}

export function slotView(shared: SharedArrayBuffer, slot: number, bytes = SLOT_BYTES) {
  return new Uint8Array(shared, CONTROL_BYTES + slot * SLOT_BYTES, bytes);
}

/** Both threads write frames to the port: one frame at a time, whole. Waits (blocking) for the
 *  other thread, which holds the lock only while it writes. */
export function lockWrites(ctl: Int32Array) {
  while (Atomics.compareExchange(ctl, WRITE_LOCK, 0, 1) !== 0) Atomics.wait(ctl, WRITE_LOCK, 1, 50);
}

export function unlockWrites(ctl: Int32Array) {
  Atomics.store(ctl, WRITE_LOCK, 0);
  Atomics.notify(ctl, WRITE_LOCK);
}
