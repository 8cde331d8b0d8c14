// Literal calls in Lua source, found by parsing it (luaparse) rather than by matching text:
// a comment or a string that mentions `vm_fixture("base")` is not a call.
// The fixture cache key uses it to know, before building, what a builder depends on.
import * as luaparse from "luaparse";

export interface LiteralCall {
  /** The function's name: `require`, `vm_fixture`, ... (plain, `obj:name` or `obj.name`). */
  fn: string;
  /** Its path argument, a string literal. */
  arg: string;
  line: number;
  /** False when a table argument says `auto_dep = false` (push_file's option). */
  autoDep: boolean;
}

// Lua 5.4's local attributes (`local x <const> = 1`, `<close>`), which luaparse (Lua 5.3)
// does not know, become spaces: offsets and lines stay where they were.
const LOCAL_ATTRIBS = /\blocal\s+(?:[A-Za-z_]\w*\s*(?:<\s*(?:const|close)\s*>\s*)?,\s*)*[A-Za-z_]\w*\s*(?:<\s*(?:const|close)\s*>)?/g;

export function withoutLocalAttribs(source: string): string {
  return source.replace(LOCAL_ATTRIBS, (m) => m.replace(/<\s*(?:const|close)\s*>/g, (a) => " ".repeat(a.length)));
}

// The source is read as latin1 (one char per byte) and strings decoded as UTF-8 after
// parsing, so that any bytes in a literal come out as Lua sees them.
const text = (latin1: string) => new TextDecoder().decode(Buffer.from(latin1, "latin1"));

function calledName(base: luaparse.Expression): { name: string; dot: boolean } | null {
  if (base.type === "Identifier") return { name: base.name, dot: false };
  if (base.type === "MemberExpression") return { name: base.identifier.name, dot: base.indexer === "." };
  return null;
}

function stringValue(e: luaparse.Expression | undefined): string | null {
  return e?.type === "StringLiteral" && e.value !== null ? text(e.value) : null;
}

function saysNoAutoDep(e: luaparse.Expression): boolean {
  return (
    e.type === "TableConstructorExpression" &&
    e.fields.some((f) => f.type === "TableKeyString" && f.key.name === "auto_dep" && f.value.type === "BooleanLiteral" && f.value.value === false)
  );
}

/** Calls to any of `names` whose path argument is a string literal, in source order.
 *  Throws "<file>:<line>: ..." when the source does not parse. */
export function literalCalls(source: Buffer | string, file: string, names: ReadonlySet<string>): LiteralCall[] {
  const latin1 = typeof source === "string" ? Buffer.from(source).toString("latin1") : source.toString("latin1");
  const found: LiteralCall[] = [];
  const onCreateNode = (node: luaparse.Node) => {
    let args: luaparse.Expression[];
    if (node.type === "CallExpression") args = node.arguments;
    else if (node.type === "StringCallExpression") args = [node.argument];
    else if (node.type === "TableCallExpression") args = [node.arguments];
    else return;
    const called = calledName(node.base);
    if (!called || !names.has(called.name)) return;
    // `obj.fn(obj, "x")` passes the object itself first; `provium.vm_fixture("x")` does not.
    const arg = stringValue(args[0]) ?? (called.dot ? stringValue(args[1]) : null);
    if (arg === null) return;
    found.push({ fn: called.name, arg, line: node.loc?.start.line ?? 0, autoDep: !args.some(saysNoAutoDep) });
  };
  try {
    luaparse.parse(withoutLocalAttribs(latin1), { luaVersion: "5.3", encodingMode: "pseudo-latin1", locations: true, comments: false, scope: false, onCreateNode } as luaparse.Options);
  } catch (e) {
    const err = e as Error & { line?: number };
    if (err.line === undefined) throw e;
    throw new Error(`${file}:${err.line}: does not parse as Lua, so its dependencies cannot be found: ${err.message.replace(/^\[\d+:\d+\] /, "")}`);
  }
  return found;
}
