// The reference codec for tests: converts between capnp-es structs and plain JS objects by
// reflecting on capnp-es's generated classes. The wire codec (src/wire.ts and the code
// generated for it) must agree with it on every message.
//
// Plain form: a struct is an object of its fields; a union carries only its active member;
// Data is Uint8Array; List is an array; Void is `true`; UInt64/Int64 are numbers when safe.
import * as $ from "capnp-es";
import type { Plain } from "../src/wire";

interface FieldInfo {
  name: string;
  unionMember: boolean; // has an `_isName` getter: only one member is live
  readable: boolean; // false for Void members, which have only a setter
  isKey: string; // `_isName`
  initKey: string; // `_initName`
  which: number | undefined; // a union member's discriminant (the class's NAME constant)
}

const fieldCache = new WeakMap<object, FieldInfo[] & { hasUnion?: boolean }>();

function fieldsOf(ctor: { prototype: object }): FieldInfo[] & { hasUnion?: boolean } {
  let fields = fieldCache.get(ctor);
  if (fields) return fields;
  const descs = Object.getOwnPropertyDescriptors(ctor.prototype);
  fields = Object.entries(descs)
    .filter(([name, d]) => (d.get || d.set) && !name.startsWith("_") && name !== "constructor")
    .map(([name]) => {
      const cap = name[0]!.toUpperCase() + name.slice(1);
      const constant = name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
      const which = (ctor as unknown as Record<string, unknown>)[constant];
      return {
        name,
        unionMember: `_is${cap}` in descs,
        readable: !!descs[name]!.get,
        isKey: `_is${cap}`,
        initKey: `_init${cap}`,
        which: typeof which === "number" ? which : undefined,
      };
    });
  const cached = Object.assign(fields, { hasUnion: fields.some((f) => f.unionMember) });
  fieldCache.set(ctor, cached);
  return cached;
}

/** Bounds the work of reading an untrusted message: words visited and nesting depth. */
export interface ReadBudget {
  left: number;
  depth: number;
}
const MAX_DEPTH = 64;

function spend(budget: ReadBudget, words: number) {
  budget.left -= words;
  if (budget.left < 0) throw new Error("message refers to more data than it holds (shared or looping pointers)");
}

/** Reads a struct into plain objects, eagerly, so that a malformed message fails here. */
export function toPlain<T extends $.Struct>(s: T, budget: ReadBudget = { left: Infinity, depth: 0 }): Plain<T> {
  if (++budget.depth > MAX_DEPTH) throw new Error(`message nests deeper than ${MAX_DEPTH} levels`);
  spend(budget, 1);
  const out: Record<string, unknown> = {};
  const fields = fieldsOf(s.constructor as never);
  const any = s as unknown as Record<string, any>;
  // One which() per union instead of an `_isX` getter per member (getters are slow in a
  // guest under TCG); members without a known discriminant fall back to their getter.
  const live = fields.hasUnion ? (any.which() as number) : -1;
  for (const f of fields) {
    if (f.unionMember && (f.which !== undefined ? f.which !== live : !any[f.isKey])) continue;
    out[f.name] = f.readable ? valueToPlain(any[f.name], budget) : true;
  }
  budget.depth--;
  return out as Plain<T>;
}

function valueToPlain(v: unknown, budget: ReadBudget): unknown {
  if (typeof v === "bigint") return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof v === "string") spend(budget, v.length / 8);
  if (v instanceof $.Data) {
    spend(budget, v.length / 8);
    return v.toUint8Array();
  }
  if (v instanceof $.List) {
    spend(budget, v.length);
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = valueToPlain(v.get(i), budget);
    return out;
  }
  if (v instanceof $.Struct) return toPlain(v, budget);
  return v;
}

/** Writes a plain object into a freshly initialised struct. Unknown keys are an error. */
export function fromPlain<T extends $.Struct>(s: T, plain: Plain<T>): T {
  const fields = fieldsOf(s.constructor as never);
  const any = s as unknown as Record<string, any>;
  for (const [key, value] of Object.entries(plain as Record<string, unknown>)) {
    if (value === undefined) continue;
    const f = fields.find((x) => x.name === key);
    if (!f) throw new Error(`${s.constructor.name} has no field '${key}'`);
    if (value instanceof Uint8Array) {
      any[f.initKey](value.byteLength).copyBuffer(value);
    } else if (Array.isArray(value)) {
      const list = any[f.initKey](value.length);
      value.forEach((item, i) => {
        if (item !== null && typeof item === "object" && !(item instanceof Uint8Array)) fromPlain(list.get(i), item);
        else list.set(i, item);
      });
    } else if (value !== null && typeof value === "object") {
      fromPlain(any[f.initKey](), value as never);
    } else if (typeof value === "number" && typeof currentValue(any, f) === "bigint") {
      any[key] = BigInt(value);
    } else {
      any[key] = value; // also selects a Void union member (`true`)
    }
  }
  return s;
}

// A union member's getter throws when another member is live; read it only when it is safe.
function currentValue(any: Record<string, any>, f: FieldInfo) {
  if (f.unionMember && !any[f.isKey]) return undefined;
  return any[f.name];
}
