// `provium init`: what a project needs to run its first test on a real VM: provium.toml, a
// hello test, the editor's LuaLS set-up, .gitignore lines and a CI workflow. Files it writes
// whole are never overwritten without --force; .luarc.json and .gitignore are merged into.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { lspSetup, readLuarc } from "./lsp-setup";
import { UsageError } from "./run";

const CONFIG = `# Provium: integration tests that run inside real QEMU virtual machines.
[provium]
roots = ["tests"]   # where \`bunx provium\` looks for *.test.lua

# Two profiles are built in and need no entry here: "minimal" (busybox in an initramfs, boots
# fastest) and "debian" (the host's Debian release with python3, curl and procps). A recipe
# adds Debian packages to a base image, built once with mmdebstrap and cached:
#
# [profiles.web]
# base = "debian"
# packages = ["nginx", "curl"]
#
# and a test boots it with provium:vm("web1", "web"):boot().
`;

const HELLO = `-- A first Provium test: boot a guest of the built-in "minimal" profile and run a command in it.
-- Run it with \`bunx provium\`; with lua-language-server, \`vm:\` and \`t:\` complete in your editor.
local vm = provium:vm("hello", "minimal"):boot()

test("a command runs in the guest", function(t)
  local r = vm:run("echo hello from $(uname -s)")
  r:assert_ok()
  t:assert_eq(r.stdout, "hello from Linux\\n")
end)
`;

/** What provium leaves in a project that is not source (local state, the CI report). */
const IGNORED = [".provium/", "provium-junit.xml"];

const workflow = (bunVersion: string) => `# Runs the Provium tests on every push and pull request (written by \`provium init\`).
name: provium
on: [push, pull_request]

jobs:
  provium:
    runs-on: ubuntu-latest
    # The guest kernel is Debian's cloud kernel, fetched with the host's apt: a Debian host.
    container:
      image: debian:bookworm
      # Uncomment where the runner has KVM (many times faster than TCG, which is used without it):
      # options: --device /dev/kvm
    steps:
      - uses: actions/checkout@v4
      # QEMU; busybox, xz and zstd for the guest's initramfs (the kernel's modules are compressed)
      # and fixtures; unzip for setup-bun. apt-get update also gives apt-get download its lists.
      - name: Host prerequisites
        run: apt-get update -qq && apt-get install -y -qq qemu-system-x86 qemu-utils busybox-static xz-utils zstd ca-certificates unzip
      - uses: oven-sh/setup-bun@v2
        with:
          bun-version: "${bunVersion}"
      # The kernel, the compiled guest agent and the images: rebuilt only when an input changes.
      - uses: actions/cache@v4
        with:
          path: ~/.cache/provium
          key: provium-\${{ runner.os }}-\${{ hashFiles('provium.toml', 'bun.lock') }}
          restore-keys: provium-\${{ runner.os }}-
      - name: Install the project's packages
        if: hashFiles('package.json') != ''
        run: bun install
      - run: bunx provium --junit provium-junit.xml
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: provium-junit
          path: provium-junit.xml
`;

export interface InitResult {
  /** paths written, relative to the project */
  written: string[];
  /** whether .luarc.json points at the types of the provium installed in the project */
  typesInstalled: boolean;
}

/** Scaffolds a project in `dir`. Throws (writing nothing) if a file it writes whole exists, unless `force`. */
export function init(dir: string, o: { force?: boolean } = {}): InitResult {
  const whole: [string, string][] = [
    ["provium.toml", CONFIG],
    ["tests/hello.test.lua", HELLO],
    [".github/workflows/provium.yml", workflow(Bun.version)],
  ];
  const existing = whole.map(([f]) => f).filter((f) => existsSync(join(dir, f)));
  if (existing.length && !o.force)
    throw new UsageError(`init: ${existing.join(", ")} already exist${existing.length === 1 ? "s" : ""} in ${dir}; nothing was written (--force overwrites)`);
  readLuarc(dir); // a .luarc.json that cannot be merged into stops init before it writes anything

  for (const [f, text] of whole) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  const lsp = lspSetup(dir);
  const gitignore = join(dir, ".gitignore");
  const had = existsSync(gitignore) ? readFileSync(gitignore, "utf8") : "";
  const missing = IGNORED.filter((line) => !had.split("\n").some((l) => l.trim() === line));
  if (missing.length) writeFileSync(gitignore, had + (had && !had.endsWith("\n") ? "\n" : "") + missing.join("\n") + "\n");
  return {
    written: [...whole.map(([f]) => f), ".luarc.json", ...(lsp.installed ? [] : [".provium/types/provium.d.lua"]), ...(missing.length ? [".gitignore"] : [])],
    typesInstalled: lsp.installed,
  };
}
