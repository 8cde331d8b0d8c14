// `import x from "./file.sh" with { type: "text" }` (Bun embeds the text at build time): the
// guest init script, the Lua prelude and the LuaLS definitions.
declare module "*.sh" {
  const text: string;
  export default text;
}
declare module "*.lua" {
  const text: string;
  export default text;
}
// `import p from "x.wasm" with { type: "file" }`: the path of the embedded file.
declare module "*.wasm" {
  const path: string;
  export default path;
}
