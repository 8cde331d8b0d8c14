// Generates generated/wire.ts from the schema: for every struct, a reader that turns its wire
// form straight into the codec's plain object, and a size and a write function for the other
// way (the helpers they call are in src/wire.ts). Offsets, section sizes and union tags come
// from capnp's own compiler (`capnp compile -o-`), so the schema stays the one definition.
import * as $ from "capnp-es";
import { CodeGeneratorRequest, Field, Node, Type } from "capnp-es/capnp/schema";

type TypeModel =
  | { kind: "void" | "bool" | "int8" | "int16" | "int32" | "int64" | "uint8" | "uint16" | "uint32" | "uint64" | "float32" | "float64" | "text" | "data" }
  | { kind: "enum" }
  | { kind: "struct"; of: string }
  | { kind: "list"; of: TypeModel };

interface FieldModel {
  name: string;
  /** Union tag, or undefined for a field outside the union. */
  tag?: number;
  /** Offset in units of the field's own size (bits for Bool), or the pointer index. */
  offset: number;
  type: TypeModel;
  /** A group: its struct, sharing this one's sections. */
  group?: string;
}

export interface StructModel {
  name: string;
  dataWords: number;
  pointerWords: number;
  /** Byte offset of the union tag in the data section, when there is a union. */
  tagByte?: number;
  fields: FieldModel[];
}

const PRIMITIVES: Record<number, TypeModel["kind"]> = {
  [Type.VOID]: "void", [Type.BOOL]: "bool", [Type.INT8]: "int8", [Type.INT16]: "int16", [Type.INT32]: "int32",
  [Type.INT64]: "int64", [Type.UINT8]: "uint8", [Type.UINT16]: "uint16", [Type.UINT32]: "uint32",
  [Type.UINT64]: "uint64", [Type.FLOAT32]: "float32", [Type.FLOAT64]: "float64", [Type.TEXT]: "text", [Type.DATA]: "data",
  [Type.ENUM]: "enum",
};

/** The structs of a CodeGeneratorRequest (capnp compile -o-), by name ("Request", "Request.op"). */
export function structsOf(request: Uint8Array): StructModel[] {
  const req = new $.Message(request, false).getRoot(CodeGeneratorRequest);
  const nodes = new Map<bigint, Node>();
  for (const n of req.nodes) nodes.set(n.id, n);
  const nameOf = (id: bigint) => {
    const n = nodes.get(id);
    if (!n) throw new Error(`schema refers to unknown node ${id}`);
    return n.displayName.slice(n.displayName.indexOf(":") + 1);
  };
  const typeOf = (t: Type, where: string): TypeModel => {
    const w = t.which();
    if (w in PRIMITIVES) return { kind: PRIMITIVES[w]! } as TypeModel;
    if (w === Type.STRUCT) return { kind: "struct", of: nameOf(t.struct.typeId) };
    if (w === Type.LIST) return { kind: "list", of: typeOf(t.list.elementType, where) };
    throw new Error(`${where}: interfaces and AnyPointer are not supported by the wire generator`);
  };
  const out: StructModel[] = [];
  for (const n of req.nodes) {
    if (n.which() !== Node.STRUCT) continue;
    const s = n.struct;
    const name = nameOf(n.id);
    const fields: FieldModel[] = [];
    for (const f of s.fields) {
      const where = `${name}.${f.name}`;
      const tag = f.discriminantValue === Field.NO_DISCRIMINANT ? undefined : f.discriminantValue;
      if (f.which() === Field.GROUP) {
        fields.push({ name: f.name, tag, offset: 0, type: { kind: "void" }, group: nameOf(f.group.typeId) });
        continue;
      }
      const type = typeOf(f.slot.type, where);
      if (f.slot.hadExplicitDefault) throw new Error(`${where}: explicit defaults are not supported by the wire generator`);
      if (type.kind === "list" && !["struct", "text", "data"].includes(type.of.kind))
        throw new Error(`${where}: only lists of structs, Text and Data are supported by the wire generator`);
      fields.push({ name: f.name, tag, offset: f.slot.offset, type });
    }
    out.push({
      name,
      dataWords: s.dataWordCount,
      pointerWords: s.pointerCount,
      tagByte: s.discriminantCount > 0 ? s.discriminantOffset * 2 : undefined,
      fields,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

const id = (name: string) => name.replace(/\./g, "_");

const DATA_ACCESS: Record<string, { bytes: number; get: string; set: string }> = {
  int8: { bytes: 1, get: "getInt8", set: "setInt8" },
  uint8: { bytes: 1, get: "getUint8", set: "setUint8" },
  int16: { bytes: 2, get: "getInt16", set: "setInt16" },
  uint16: { bytes: 2, get: "getUint16", set: "setUint16" },
  enum: { bytes: 2, get: "getUint16", set: "setUint16" },
  int32: { bytes: 4, get: "getInt32", set: "setInt32" },
  uint32: { bytes: 4, get: "getUint32", set: "setUint32" },
  float32: { bytes: 4, get: "getFloat32", set: "setFloat32" },
  float64: { bytes: 8, get: "getFloat64", set: "setFloat64" },
};

function readExpr(f: FieldModel): string {
  const t = f.type;
  if (f.group) return `b_${id(f.group)}(r, s, d, dw, pw)`;
  const ptr = `p + ${f.offset * 8}`;
  const hasPtr = `pw > ${f.offset}`;
  switch (t.kind) {
    case "void":
      return "true";
    case "bool":
      return `dw > ${f.offset >> 6} && (v.getUint8(d + ${f.offset >> 3}) & ${1 << (f.offset & 7)}) !== 0`;
    case "int64":
    case "uint64": {
      const at = f.offset * 8;
      return `dw > ${at >> 3} ? ${t.kind === "int64" ? "readI64" : "readU64"}(v, d + ${at}) : 0`;
    }
    case "text":
      return `${hasPtr} ? r.text(s, ${ptr}) : ""`;
    case "data":
      return `${hasPtr} ? r.data(s, ${ptr}) : new Uint8Array(0)`;
    case "struct":
      return `${hasPtr} ? r_${id(t.of)}(r, s, ${ptr}) : b_${id(t.of)}(r, 0, 0, 0, 0)`;
    case "list":
      if (t.of.kind === "struct") return `${hasPtr} ? l_${id(t.of.of)}(r, s, ${ptr}) : []`;
      return `${hasPtr} ? r.${t.of.kind}List(s, ${ptr}) : []`;
    default: {
      const a = DATA_ACCESS[t.kind]!;
      const at = f.offset * a.bytes;
      return `dw > ${at >> 3} ? v.${a.get}(d + ${at}${a.bytes > 1 ? ", true" : ""}) : 0`;
    }
  }
}

function sizeStmt(f: FieldModel, byName: Map<string, StructModel>): string {
  const t = f.type;
  if (f.group) return `n += z_${id(f.group)}(w, x);`;
  switch (t.kind) {
    case "text":
      return "n += w.textWords(x);";
    case "data":
      return "n += w.dataWords(x);";
    case "struct": {
      const s = byName.get(t.of)!;
      return `n += ${s.dataWords + s.pointerWords} + z_${id(t.of)}(w, x);`;
    }
    case "list":
      if (t.of.kind === "struct") {
        const s = byName.get(t.of.of)!;
        return `n += 1 + x.length * ${s.dataWords + s.pointerWords}; for (const e of x) n += z_${id(t.of.of)}(w, e);`;
      }
      return `n += w.${t.of.kind}ListWords(x);`;
    default:
      return "";
  }
}

function writeStmt(f: FieldModel, byName: Map<string, StructModel>): string {
  const t = f.type;
  if (f.group) return `w_${id(f.group)}(w, x, d);`;
  const ptr = `p + ${f.offset * 8}`;
  switch (t.kind) {
    case "void":
      return "";
    case "bool":
      return `w.setBool(d + ${f.offset >> 3}, ${f.offset & 7}, x);`;
    case "int64":
    case "uint64":
      return `w.set64(d + ${f.offset * 8}, x);`;
    case "text":
      return `w.text(${ptr}, x);`;
    case "data":
      return `w.data(${ptr}, x);`;
    case "struct": {
      const s = byName.get(t.of)!;
      return `{ const t = w.alloc(${s.dataWords + s.pointerWords}); w.structPtr(${ptr}, t, ${s.dataWords}, ${s.pointerWords}); w_${id(t.of)}(w, x, t); }`;
    }
    case "list":
      if (t.of.kind === "struct") {
        const s = byName.get(t.of.of)!;
        const step = (s.dataWords + s.pointerWords) * 8;
        return `{ const t = w.structList(${ptr}, x.length, ${s.dataWords}, ${s.pointerWords}); for (let j = 0; j < x.length; j++) w_${id(t.of.of)}(w, x[j], t + j * ${step}); }`;
      }
      return `w.${t.of.kind}List(${ptr}, x);`;
    default: {
      const a = DATA_ACCESS[t.kind]!;
      return `w.v.${a.set}(d + ${f.offset * a.bytes}, x${a.bytes > 1 ? ", true" : ""});`;
    }
  }
}

function structCode(s: StructModel, byName: Map<string, StructModel>, use: { pointed: Set<string>; listed: Set<string> }): string {
  const n = id(s.name);
  const plain = s.fields.filter((f) => f.tag === undefined);
  const members = s.fields.filter((f) => f.tag !== undefined);
  const lines: string[] = [];
  // read: the body at byte d of segment s, with the sizes the pointer gave
  lines.push(`function b_${n}(r, s, d, dw, pw) {`);
  lines.push(`  const v = r.views[s], p = d + dw * 8;`);
  lines.push(`  const o = { ${plain.map((f) => `${f.name}: ${readExpr(f)}`).join(", ")} };`);
  if (s.tagByte !== undefined && members.length) {
    lines.push(`  switch (dw > ${s.tagByte >> 3} ? v.getUint16(d + ${s.tagByte}, true) : 0) {`);
    for (const f of members) lines.push(`    case ${f.tag}: o.${f.name} = ${readExpr(f)}; break;`);
    lines.push(`  }`);
  }
  lines.push(`  return o;`, `}`);
  if (use.pointed.has(s.name)) {
    lines.push(`function r_${n}(r, s, at) {`);
    lines.push(`  if (!r.struct(s, at)) return b_${n}(r, 0, 0, 0, 0);`);
    lines.push(`  r.enter();`, `  const o = b_${n}(r, r.s, r.d, r.dw, r.pw);`, `  r.depth--;`, `  return o;`, `}`);
  }
  if (use.listed.has(s.name)) {
    lines.push(`function l_${n}(r, s, at) {`);
    lines.push(`  if (!r.structList(s, at)) return [];`);
    lines.push(`  const seg = r.s, dw = r.dw, pw = r.pw, step = (dw + pw) * 8, out = new Array(r.n);`);
    lines.push(`  r.enter();`);
    lines.push(`  for (let i = 0, d = r.d; i < out.length; i++, d += step) out[i] = b_${n}(r, seg, d, dw, pw);`);
    lines.push(`  r.depth--;`, `  return out;`, `}`);
  }
  // size: words this value needs outside its own struct body; refuses unknown keys
  lines.push(`function z_${n}(w, o) {`, `  let n = 0;`, `  for (const k in o) {`, `    const x = o[k];`);
  lines.push(`    if (x === undefined || x === null) continue;`, `    switch (k) {`);
  for (const f of s.fields) lines.push(`      case ${JSON.stringify(f.name)}: ${sizeStmt(f, byName)} break;`);
  lines.push(`      default: throw noField(${JSON.stringify(s.name)}, k);`, `    }`, `  }`, `  return n;`, `}`);
  // write: into the zeroed body at byte d
  lines.push(`function w_${n}(w, o, d) {`, `  const p = d + ${s.dataWords * 8};`);
  if (members.length) lines.push(`  let u = -1, un = "";`);
  lines.push(`  for (const k in o) {`, `    const x = o[k];`, `    if (x === undefined || x === null) continue;`, `    switch (k) {`);
  for (const f of s.fields) {
    const pick = f.tag === undefined ? "" : `if (u >= 0) throw unionClash(${JSON.stringify(s.name)}, un, k); u = ${f.tag}; un = k; `;
    lines.push(`      case ${JSON.stringify(f.name)}: ${pick}${writeStmt(f, byName)} break;`);
  }
  lines.push(`    }`, `  }`);
  if (members.length) lines.push(`  if (u > 0) w.v.setUint16(d + ${s.tagByte}, u, true);`);
  lines.push(`}`);
  return lines.join("\n");
}

/** The TypeScript of generated/wire.ts: a reader and a writer for `root`'s messages. */
export function wireCode(structs: StructModel[], root: string): string {
  const byName = new Map(structs.map((s) => [s.name, s]));
  const r = byName.get(root);
  if (!r) throw new Error(`schema has no struct ${root}`);
  // Which structs are reached through a pointer, which as list elements: only those get a reader.
  const use = { pointed: new Set([root]), listed: new Set<string>() };
  for (const s of structs)
    for (const f of s.fields) {
      if (f.type.kind === "struct") use.pointed.add(f.type.of);
      if (f.type.kind === "list" && f.type.of.kind === "struct") use.listed.add(f.type.of.of);
    }
  return `// Generated by libs/protocol/scripts/wire-gen.ts from the schema: do not edit.
// Per struct: b_ reads its body into a plain object, r_ follows a pointer to it, l_ reads a
// list of it; z_ sizes what a plain object needs outside the body, w_ writes it.
// @ts-nocheck
/* eslint-disable */
import { WireReader, WireWriter, readI64, readU64, noField, unionClash } from "../wire";

${structs.map((s) => structCode(s, byName, use)).join("\n\n")}

/** A message body (segment table and segments) to the plain ${root}. */
export function read${root}(body) {
  const r = new WireReader(body);
  return r_${id(root)}(r, 0, 0);
}

/** A plain ${root} as a whole frame (u32 length, message), in buffers to write in order. */
export function write${root}(o) {
  const w = new WireWriter();
  const body = ${r.dataWords + r.pointerWords};
  const root = w.begin(1 + body + z_${id(root)}(w, o));
  const t = w.alloc(body);
  w.structPtr(root, t, ${r.dataWords}, ${r.pointerWords});
  w_${id(root)}(w, o, t);
  return w.finish();
}

/** The layout the code above was generated from (for tests). */
export const structs = ${JSON.stringify(structs)};
`;
}
