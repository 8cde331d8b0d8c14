// Agent-side resources (processes, files, streams, ...) live in namespaces: 0 is the root,
// each worker has its own. Closing a namespace closes everything in it, newest first.
export interface Resource {
  kind: string;
  close(): void | Promise<void>;
}

let nextHandle = 1;

export class Namespace {
  private readonly resources = new Map<number, Resource>();

  constructor(readonly id: number) {}

  add(r: Resource): number {
    const h = nextHandle++;
    this.resources.set(h, r);
    return h;
  }

  get<T extends Resource>(handle: number, kind: string): T {
    const r = this.resources.get(handle);
    if (!r || r.kind !== kind) throw Object.assign(new Error(`no open ${kind} with handle ${handle}`), { code: "EBADF" });
    return r as T;
  }

  /** Removes and closes one resource; unknown handles are fine (close is idempotent). */
  async close(handle: number) {
    const r = this.resources.get(handle);
    if (!r) return;
    this.resources.delete(handle);
    await r.close();
  }

  async closeAll() {
    for (const h of [...this.resources.keys()].reverse()) await this.close(h).catch(() => {});
  }

  get size() {
    return this.resources.size;
  }

  /** The open resources of one kind, oldest first. */
  list<T extends Resource>(kind: string): [number, T][] {
    return [...this.resources].filter(([, r]) => r.kind === kind) as [number, T][];
  }
}

const namespaces = new Map<number, Namespace>([[0, new Namespace(0)]]);

export function namespace(id: number): Namespace {
  const ns = namespaces.get(id);
  if (!ns) throw Object.assign(new Error(`no worker ${id} (closed or never spawned)`), { code: "ESRCH" });
  return ns;
}

export function createNamespace(): Namespace {
  const ns = new Namespace(nextHandle++);
  namespaces.set(ns.id, ns);
  return ns;
}

export async function dropNamespace(id: number) {
  const ns = namespaces.get(id);
  if (!ns || id === 0) return;
  namespaces.delete(id);
  await ns.closeAll();
}

/** Every namespace, the root first. */
export function allNamespaces(): Namespace[] {
  return [...namespaces.values()];
}
