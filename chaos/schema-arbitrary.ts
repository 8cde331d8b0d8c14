// fast-check arbitraries of any struct of the wire schema, read from the generated codec's
// model (libs/protocol's `structs`): the schema stays the one source of the wire's shapes.
// Values are plain objects as the codec takes them (a union holds one member, Void is true).
import fc from "fast-check";
import { wireStructs as structs } from "@provium/protocol";

type TypeModel = { kind: string; of?: any };
type Field = { name: string; type: TypeModel; group?: string; tag?: number };
type Model = { name: string; fields: Field[] };
const byName = new Map<string, Model>((structs as readonly Model[]).map((s) => [s.name, s]));

// Deep enough for a batch of batches; the arbitraries are built eagerly, so it stays small.
const MAX_DEPTH = 4;

const INT_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  enum: [0, 65535],
};

function value(t: TypeModel, depth: number, member: boolean): fc.Arbitrary<unknown> {
  switch (t.kind) {
    case "void":
      return fc.constant(true);
    case "bool":
      return fc.boolean();
    case "text":
      return fc.string({ maxLength: 80, unit: "binary" });
    case "data":
      return fc.uint8Array({ maxLength: 256 });
    case "struct":
      return depth > MAX_DEPTH ? fc.constant({}) : struct(t.of, depth + 1);
    case "list":
      return depth > MAX_DEPTH ? fc.constant([]) : fc.array(value(t.of, depth + 1, false), { maxLength: 4 });
    case "int64":
      // a union member's 64-bit value must be a bigint for the encoder to tell its type
      return member ? fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n) : fc.maxSafeInteger();
    case "uint64":
      return member ? fc.bigInt(0n, 2n ** 64n - 1n) : fc.maxSafeNat();
    default: {
      const [lo, hi] = INT_RANGES[t.kind]!;
      return fc.integer({ min: lo, max: hi });
    }
  }
}

/** A random plain object of struct `name`, nested at most a few levels. */
export function struct(name: string, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const s = byName.get(name);
  if (!s) throw new Error(`no struct ${name} in the schema`);
  const field = (f: Field) => (f.group ? struct(f.group, depth) : value(f.type, depth, f.tag !== undefined));
  const plain = s.fields.filter((f) => f.tag === undefined);
  const members = s.fields.filter((f) => f.tag !== undefined);
  const base = fc.record(Object.fromEntries(plain.map((f) => [f.name, field(f)])), { requiredKeys: [] });
  if (!members.length) return base;
  const member = fc.oneof(...members.map((f) => field(f).map((v) => ({ [f.name]: v }))));
  return fc.tuple(base, member).map(([b, m]) => ({ ...b, ...m }));
}
