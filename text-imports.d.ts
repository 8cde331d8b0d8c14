// `import x from "./file.sh" with { type: "text" }` (Bun embeds the text at build time): the
// guest init script, the Lua prelude, the LuaLS definitions and the HTML report's page.
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
// The HTML report's page script and style, inlined into every report (apps/cli/src/report/html.ts).
declare module "*/page/report.js" {
  const text: string;
  export default text;
}
declare module "*.css" {
  const text: string;
  export default text;
}
