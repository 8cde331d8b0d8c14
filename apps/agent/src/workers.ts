// Workers: namespaces of their own inside the agent. Every namespace (the root too) keeps
// track of the processes started in it, by `exec` and by `spawn`, so that a worker can
// signal all of its children, join them (the worst exit code of those reaped) and close.
import { createNamespace, dropNamespace, type Namespace } from "./namespace";
import { killGroup } from "./exec";

interface Child {
  pid: number;
  outcome: Promise<number>;
}

interface Tracking {
  running: Set<Child>;
  worst: number | null;
  reaped: number;
}

const tracking = new WeakMap<Namespace, Tracking>();

function tracked(ns: Namespace): Tracking {
  let t = tracking.get(ns);
  if (!t) tracking.set(ns, (t = { running: new Set(), worst: null, reaped: 0 }));
  return t;
}

// Exit codes as RunResult gives them: 0..255, -1 signalled, -2 timed out. Worst first:
// timed out, then signalled, then the highest exit code; 0 is best.
const severity = (code: number) => (code === -2 ? 1002 : code === -1 ? 1001 : code);
export const worse = (a: number | null, b: number) => (a === null || severity(b) > severity(a) ? b : a);

/** A child of `ns` whose RunResult exit code `outcome` resolves to once it is reaped. */
export function adopt(ns: Namespace, pid: number, outcome: Promise<number>) {
  const t = tracked(ns);
  const child = { pid, outcome };
  t.running.add(child);
  void outcome.then((code) => {
    t.running.delete(child);
    t.reaped++;
    t.worst = worse(t.worst, code);
  });
}

/** Sends `signal` to the process group of every running child; returns how many. */
export function signalAll(ns: Namespace, signal: number) {
  const running = [...tracked(ns).running];
  for (const c of running) killGroup(c.pid, signal);
  return running.length;
}

/** Waits until no child of `ns` runs (or `timeoutMs` passes; 0 = no limit). */
export async function join(ns: Namespace, timeoutMs = 0) {
  const t = tracked(ns);
  const deadline = timeoutMs ? Date.now() + timeoutMs : Infinity;
  while (t.running.size) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let timer: Timer | undefined;
    const sleep = left === Infinity ? new Promise(() => {}) : new Promise((r) => (timer = setTimeout(r, left)));
    await Promise.race([...[...t.running].map((c) => c.outcome), sleep]);
    clearTimeout(timer);
    await Promise.resolve(); // let the `adopt` bookkeeping of what just ended run first
  }
  return { done: t.running.size === 0, worst: t.worst ?? 0, reaped: t.reaped, running: t.running.size };
}

export function spawnWorker() {
  return createNamespace().id;
}

const TERM_GRACE_MS = 2000;

/** Terminates the worker's children (SIGTERM, SIGKILL after a grace), joins them, drops it. */
export async function closeWorker(ns: Namespace) {
  if (ns.id === 0) throw Object.assign(new Error("the root namespace is not a worker"), { code: "EINVAL" });
  if (signalAll(ns, 15)) {
    const j = await join(ns, TERM_GRACE_MS);
    if (!j.done) {
      signalAll(ns, 9);
      await join(ns);
    }
  }
  await dropNamespace(ns.id);
  return join(ns, 1);
}
