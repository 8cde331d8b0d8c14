// `provium doctor`: what this host has and lacks, one line each, and the command that installs
// what is missing. Exit 0 when tests can run (warnings allowed), 1 otherwise.
import pc from "picocolors";
import { aptInstall, cacheRoot } from "@provium/vmm";
import { allChecks, type Check } from "./host-checks";
import { loadRunConfig } from "./run";

export async function doctor(o: { config?: string }, write: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const config = loadRunConfig(o.config);
  const cacheDir = config.cacheDir ?? cacheRoot();
  const checks = await allChecks(config, cacheDir);
  const c = pc.createColors(!!process.stdout.isTTY);
  const mark = { ok: c.green("✓"), warn: c.yellow("!"), fail: c.red("✗") };
  const width = Math.max(...checks.map((k) => k.name.length));
  write(`provium doctor${config.file ? ` (${config.file})` : " (no provium.toml: the built-in profiles)"}\n`);
  for (const k of checks) write(`${mark[k.level]} ${k.name.padEnd(width)}  ${k.level === "fail" ? c.red(k.detail) : k.detail}\n`);
  const failed = checks.filter((k) => k.level === "fail");
  if (!failed.length) {
    write(`\n${c.green("tests can run on this host")}\n`);
    return 0;
  }
  write(`\n${c.red(`tests cannot run on this host: ${failed.map((k) => k.name).join(", ")} missing`)}\n`);
  const pkgs = [...new Set(failed.map((k: Check) => k.pkg).filter((p): p is string => !!p))];
  if (pkgs.length > 1) write(`all at once: ${aptInstall(...pkgs)}\n`);
  return 1;
}
