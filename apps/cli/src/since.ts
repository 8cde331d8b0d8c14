// --since REF: the test files a change touched. REF is a git revision: the files changed since
// it (committed, staged, in the work tree, or new and not ignored), and the test files that
// depend on one of them through helpers they require, fixtures they resume and host files
// they push. REF naming an existing file is upstream's form: the test files modified after it.
import { existsSync, realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { luaFileDeps } from "@provium/host-runtime";
import type { Config } from "./config";

export class SinceError extends Error {}

// git names files by their real path; the suite's may go through a symlink (/tmp on macOS).
const real = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return p; // deleted: as named
  }
};

function git(args: string[], cwd: string) {
  const r = Bun.spawnSync(["git", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  return { ok: r.exitCode === 0, out: r.stdout.toString(), err: r.stderr.toString().trim() };
}

/** Absolute paths of the files that differ from `ref` in the git work tree around `cwd`. */
export function changedSince(ref: string, cwd: string): Set<string> {
  const top = git(["rev-parse", "--show-toplevel"], cwd);
  if (!top.ok) throw new SinceError(`--since ${ref}: not a file, and ${cwd} is not in a git work tree (${top.err})`);
  const root = top.out.trim();
  const rev = git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], root);
  if (!rev.ok) throw new SinceError(`--since ${ref}: neither a file nor a git revision of ${root}`);
  const diff = git(["diff", "--name-only", "-z", rev.out.trim(), "--"], root);
  const untracked = git(["ls-files", "--others", "--exclude-standard", "-z"], root);
  if (!diff.ok || !untracked.ok) throw new SinceError(`--since ${ref}: git failed: ${diff.err || untracked.err}`);
  return new Set((diff.out + untracked.out).split("\0").filter(Boolean).map((f) => resolve(root, f)));
}

/** The files of `files` (absolute test paths) that --since `ref` selects. */
export function selectSince(files: string[], ref: string, config: Config, cwd = process.cwd()): string[] {
  if (existsSync(resolve(cwd, ref))) {
    const after = statSync(resolve(cwd, ref)).mtimeMs;
    return files.filter((f) => statSync(f).mtimeMs > after);
  }
  const changed = changedSince(ref, cwd);
  return files.filter((f) => {
    if (changed.has(real(f))) return true;
    try {
      return luaFileDeps(f, config).some((d) => changed.has(real(d)));
    } catch {
      return true; // it does not parse: run it, and its error shows
    }
  });
}
