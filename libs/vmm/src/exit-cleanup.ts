// Last-resort cleanup: whatever way the host process ends (normal exit, Ctrl-C, SIGTERM,
// SIGHUP, uncaught exception or rejection; Bun runs "exit" handlers for those too), every
// registered QEMU is SIGKILLed and its files removed, synchronously.
const cleanups = new Set<() => void>();
let installed = false;

/** Run `fn` (synchronously) at process exit unless the returned function unregisters it first. */
export function onProcessExit(fn: () => void): () => void {
  installExitCleanup();
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Run every registered cleanup now (a runner worker told to stop: its thread may end without
 *  an exit event). */
export function runExitCleanups(): void {
  runAll();
}

function runAll(): void {
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
  process.on("exit", runAll);
  for (const [sig, num] of [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]] as const) {
    process.on(sig, () => {
      runAll();
      // Alone, we must also end the process as the default action would; if the app has its
      // own handler it decides when to exit (the VMs are already gone).
      if (process.listenerCount(sig) <= 1) process.exit(128 + num);
    });
  }
}
