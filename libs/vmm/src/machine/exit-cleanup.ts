// Last-resort cleanup: whatever way the host process ends (normal exit, Ctrl-C, SIGTERM,
// SIGHUP, uncaught exception or rejection; Bun runs "exit" handlers for those too), every
// registered cleanup runs, synchronously: QEMUs SIGKILLed with their run dirs, temp files and
// helper processes (snapshots, a fixture's staging dir, a zstd unpacking) removed.
const cleanups = new Set<() => void>();
let installed = false;

/** Run `fn` (synchronously) at process exit unless the returned function unregisters it first. */
export function onProcessExit(fn: () => void): () => void {
  installExitCleanup();
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Runs every registered cleanup now: at exit, or when a runner worker is told to stop (its
 *  thread may end without an exit event). */
export function runExitCleanups(): void {
  for (const fn of [...cleanups]) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {}
  }
}

/** Install the process handlers (idempotent; QemuVm.launch does it). */
export function installExitCleanup(): void {
  if (installed) return;
  installed = true;
  process.on("exit", runExitCleanups);
  for (const [sig, num] of [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]] as const) {
    process.on(sig, () => {
      runExitCleanups();
      // Alone, we must also end the process as the default action would; if the app has its
      // own handler it decides when to exit (the VMs are already gone).
      if (process.listenerCount(sig) <= 1) process.exit(128 + num);
    });
  }
}
