// Moves values across the Lua/JS boundary on the raw stack API, so that Lua strings stay
// bytes: wasmoon's own conversion goes through UTF-8 and would mangle binary data.
//
// Lua -> JS: nil -> null, integers and floats -> number (an integer beyond 2^53: bigint),
// strings -> string when short and valid UTF-8, else Uint8Array; tables -> arrays (keys
// 1..n) or objects.
// JS -> Lua: string -> its UTF-8 bytes, Uint8Array -> the same bytes, arrays and objects -> tables.
import type { LuaWasm } from "wasmoon";

const LUA_TNIL = 0, LUA_TBOOLEAN = 1, LUA_TNUMBER = 3, LUA_TSTRING = 4, LUA_TTABLE = 5;
const MAX_DEPTH = 100;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
// Longer strings cross as bytes without a UTF-8 check: big payloads are data, not names.
const TEXT_PROBE_LIMIT = 64 * 1024;

// ignoreBOM: a leading U+FEFF is part of the string, not a marker to drop.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

export class Marshal {
  private readonly m: any;
  private readonly lenPtr: number;

  constructor(private readonly lua: LuaWasm) {
    this.m = (lua as any).module;
    this.lenPtr = this.m._malloc(8);
  }

  /** The bytes of the string at idx, copied out of the wasm heap. */
  bytesAt(L: number, idx: number): Uint8Array {
    const ptr = this.m._lua_tolstring(L, idx, this.lenPtr);
    const len = this.m.HEAPU32[this.lenPtr >> 2];
    return this.m.HEAPU8.slice(ptr, ptr + len);
  }

  read(L: number, idx: number, depth = 0): unknown {
    switch (this.lua.lua_type(L, idx)) {
      case LUA_TNIL:
        return null;
      case LUA_TBOOLEAN:
        return this.lua.lua_toboolean(L, idx) !== 0;
      case LUA_TNUMBER: {
        if (!this.lua.lua_isinteger(L, idx)) return this.lua.lua_tonumberx(L, idx, 0 as any);
        // Integers beyond 2^53 stay exact as bigint (raw call arguments, nanosecond times).
        const i = BigInt(this.lua.lua_tointegerx(L, idx, 0 as any));
        return i >= -MAX_SAFE && i <= MAX_SAFE ? Number(i) : i;
      }
      case LUA_TSTRING: {
        const b = this.bytesAt(L, idx);
        if (b.byteLength > TEXT_PROBE_LIMIT) return b;
        try {
          return utf8.decode(b);
        } catch {
          return b;
        }
      }
      case LUA_TTABLE:
        return this.readTable(L, idx, depth);
      default:
        throw new Error(`cannot pass a ${this.lua.lua_typename(L, this.lua.lua_type(L, idx))} to the host`);
    }
  }

  private readTable(L: number, idx: number, depth: number) {
    if (depth > MAX_DEPTH) throw new Error("table nests too deeply (a cycle?)");
    const t = idx < 0 ? this.lua.lua_gettop(L) + idx + 1 : idx;
    const entries: [unknown, unknown][] = [];
    this.lua.lua_pushnil(L);
    while (this.lua.lua_next(L, t) !== 0) {
      entries.push([this.read(L, -2, depth + 1), this.read(L, -1, depth + 1)]);
      this.lua.lua_settop(L, -2);
    }
    // An empty table crosses as an empty array: callers treat both shapes alike.
    const isArray = entries.every(([k]) => typeof k === "number" && Number.isInteger(k) && k >= 1 && k <= entries.length);
    if (isArray) {
      const arr = new Array(entries.length);
      for (const [k, v] of entries) arr[(k as number) - 1] = v;
      return arr;
    }
    const obj: Record<string, unknown> = {};
    for (const [k, v] of entries) obj[k instanceof Uint8Array ? new TextDecoder().decode(k) : String(k)] = v;
    return obj;
  }

  pushBytes(L: number, b: Uint8Array) {
    const ptr = this.m._malloc(b.byteLength || 1);
    try {
      this.m.HEAPU8.set(b, ptr);
      this.m._lua_pushlstring(L, ptr, b.byteLength);
    } finally {
      this.m._free(ptr);
    }
  }

  push(L: number, v: unknown, depth = 0): void {
    if (depth > MAX_DEPTH) throw new Error("value nests too deeply to pass to Lua");
    if (v === null || v === undefined) this.lua.lua_pushnil(L);
    else if (typeof v === "boolean") this.lua.lua_pushboolean(L, v ? 1 : 0);
    else if (typeof v === "number") Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? this.m._lua_pushinteger(L, BigInt(v)) : this.lua.lua_pushnumber(L, v);
    else if (typeof v === "bigint") this.m._lua_pushinteger(L, v);
    else if (typeof v === "string") this.pushBytes(L, encoder.encode(v));
    else if (v instanceof Uint8Array) this.pushBytes(L, v);
    else if (Array.isArray(v)) {
      this.lua.lua_createtable(L, v.length, 0);
      v.forEach((item, i) => {
        this.push(L, item, depth + 1);
        this.m._lua_rawseti(L, -2, BigInt(i + 1));
      });
    } else if (typeof v === "object") {
      const entries = Object.entries(v as object);
      this.lua.lua_createtable(L, 0, entries.length);
      for (const [k, item] of entries) {
        this.push(L, item, depth + 1);
        this.lua.lua_setfield(L, -2, k);
      }
    } else throw new Error(`cannot pass a ${typeof v} to Lua`);
  }
}
