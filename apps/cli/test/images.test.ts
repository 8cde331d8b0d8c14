// Image recipes in provium.toml (`base`, `packages`) and the built-in debian profile: how they
// resolve, and the errors bad input gets. Booting Debian guests is covered by tests/images.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtinProfiles, ConfigError, loadConfig } from "../src/config";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function toml(text: string) {
  const d = mkdtempSync(join(tmpdir(), "provium-images-"));
  dirs.push(d);
  const f = join(d, "provium.toml");
  writeFileSync(f, text);
  return f;
}
const fails = (text: string) => {
  const f = toml(text);
  try {
    loadConfig(f);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return { file: f, message: (e as Error).message };
  }
  throw new Error("expected a ConfigError");
};

describe("image recipes", () => {
  test("debian is built in: python3, curl and procps", () => {
    expect(builtinProfiles.debian!.rootfs!.packages).toEqual(["python3", "curl", "procps"]);
    expect(loadConfig(null).profiles.debian!.rootfs).toBeDefined();
  });

  test("a recipe adds packages to its base, and recipes chain", () => {
    const cfg = loadConfig(
      toml(`
[profiles.web]
base = "debian"
packages = ["nginx", "curl"]
cmdline = "loglevel=4"

[profiles.webdev]
base = "web"
packages = ["jq"]
`),
    );
    expect(cfg.profiles.web!.rootfs!.packages).toEqual(["python3", "curl", "procps", "nginx"]);
    expect(cfg.profiles.webdev!.rootfs!.packages).toEqual(["python3", "curl", "procps", "nginx", "jq"]);
    expect(cfg.profiles.webdev!.cmdline).toBe("loglevel=4");
    expect(cfg.profiles.minimal!.rootfs).toBeUndefined();
  });

  test("an unknown base names itself, the recipe and the config file", () => {
    const r = fails(`[profiles.web]\nbase = "ubuntu"\npackages = ["nginx"]\n`);
    expect(r.message).toBe(`${r.file}: profiles.web.base: unknown base 'ubuntu' (known: debian, web)`);
  });

  test("a base that is not an image, and cycles, are refused", () => {
    expect(fails(`[profiles.web]\nbase = "minimal"\n`).message).toContain("profiles.web.base: 'minimal' is not an image recipe");
    expect(fails(`[profiles.a]\nbase = "b"\n[profiles.b]\nbase = "a"\n`).message).toContain("recipes form a cycle: a -> b -> a");
  });

  test("packages must be package names and need a base; base excludes kernel and initrd", () => {
    expect(fails(`[profiles.web]\nbase = "debian"\npackages = ["ok", "--evil"]\n`).message).toContain(`profiles.web.packages: "--evil" is not a Debian package name`);
    expect(fails(`[profiles.web]\nbase = "debian"\npackages = "nginx"\n`).message).toContain("profiles.web.packages must be an array");
    expect(fails(`[profiles.web]\npackages = ["nginx"]\n`).message).toContain(`profiles.web: packages needs a base to add them to (e.g. base = "debian")`);
    expect(fails(`[profiles.web]\nbase = "debian"\nkernel = "vmlinuz"\n`).message).toContain("base (a Debian image recipe) cannot be combined with kernel");
  });

  test("unknown keys are still refused, and base/packages are listed as known", () => {
    const m = fails(`[profiles.web]\nbase = "debian"\npackage = ["jq"]\n`).message;
    expect(m).toContain("profiles.web: unknown key 'package'");
    expect(m).toContain("base, packages");
  });
});
