import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { boundaryViolations } from "./package-boundaries";

const tmp = mkdtempSync(join(tmpdir(), "provium-boundaries-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tree(files: Record<string, string>) {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tmp, p)), { recursive: true });
    writeFileSync(join(tmp, p), text);
  }
}

test("every package of this repository is entered through its entry point only", () => {
  expect(boundaryViolations(resolve(import.meta.dir, ".."))).toEqual([]);
});

test("a relative reach, a deep specifier, an undeclared package and a file URL into another package are each found", () => {
  tree({
    "package.json": JSON.stringify({ name: "root", devDependencies: {} }),
    "libs/a/package.json": JSON.stringify({ name: "@provium/a", dependencies: { "@provium/b": "workspace:*" } }),
    "libs/a/src/index.ts": 'export { x } from "./x";\nexport * from "@provium/b";\n',
    "libs/a/src/x.ts": 'import { y } from "../../b/src/y";\nimport { z } from "@provium/b/src/z";\nimport { c } from "@provium/c";\nexport const w = new URL' + '("../../c/src/main.ts", import.meta.url);\nexport const x = [y, z, c];\n',
    "libs/b/package.json": JSON.stringify({ name: "@provium/b" }),
    "libs/b/src/index.ts": 'export const b = 1;\n',
    "bench/run.ts": 'import { b } from "@provium/b";\nimport { q } from "../libs/b/src/index";\n',
  });
  const found = boundaryViolations(tmp).map((v) => `${v.file} ${v.specifier}`).sort();
  expect(found).toEqual([
    "bench/run.ts ../libs/b/src/index",
    "libs/a/src/x.ts ../../b/src/y",
    "libs/a/src/x.ts ../../c/src/main.ts",
    "libs/a/src/x.ts @provium/b/src/z",
    "libs/a/src/x.ts @provium/c",
  ]);
});
