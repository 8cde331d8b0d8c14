// `import x from "./file.sh" with { type: "text" }` (Bun embeds the text at build time).
declare module "*.sh" {
  const text: string;
  export default text;
}
