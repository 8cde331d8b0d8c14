// The human reporter: one line per test, failures in full, a summary.
import pc from "picocolors";
import type { RunEvent, Summary } from "../events";

export interface HumanOptions {
  verbose: boolean;
  quiet: boolean;
  write: (s: string) => void;
  color: boolean;
}

export class HumanReporter {
  private failures: RunEvent[] = [];
  private c: typeof pc;

  constructor(private readonly o: HumanOptions) {
    this.c = pc.createColors(o.color);
  }

  onEvent(e: RunEvent) {
    const { c } = this;
    const dur = e.duration_ms !== undefined ? c.dim(` (${fmtMs(e.duration_ms)})`) : "";
    switch (e.kind) {
      case "test_passed":
        if (!this.o.quiet) this.o.write(`${c.green("✓")} ${e.file} › ${e.test}${dur}\n`);
        break;
      case "test_failed":
        this.failures.push(e);
        this.o.write(`${c.red("✗")} ${e.file} › ${e.test}${dur}\n`);
        break;
      case "file_error":
        this.failures.push(e);
        this.o.write(`${c.red("✗")} ${e.file} ${c.red("(file failed)")}\n`);
        break;
      case "test_skipped":
        if (!this.o.quiet) this.o.write(`${c.yellow("-")} ${e.file} › ${e.test} ${c.dim(`skipped: ${e.reason}`)}\n`);
        break;
      case "progress":
        if (!this.o.quiet) this.o.write(c.dim(`  … ${e.message}\n`));
        break;
      case "log":
        if (this.o.verbose) this.o.write(c.dim(`  ${e.file}${e.test ? ` › ${e.test}` : ""}: ${e.message}\n`));
        break;
    }
  }

  finish(s: Summary) {
    const { c } = this;
    for (const f of this.failures) {
      this.o.write(`\n${c.red(c.bold(f.kind === "file_error" ? `FAIL ${f.file}` : `FAIL ${f.file} › ${f.test}`))}\n`);
      if (f.meta && Object.keys(f.meta).length) this.o.write(c.dim(`meta: ${JSON.stringify(f.meta)}\n`));
      this.o.write(`${f.traceback ?? f.reason}\n`);
      for (const con of f.consoles ?? []) {
        if (!con.tail.trim()) continue;
        this.o.write(c.dim(`--- console of vm ${con.vm} (last lines) ---\n${con.tail.trimEnd()}\n`));
      }
    }
    const parts = [c.green(`${s.passed} passed`), s.failed ? c.red(`${s.failed} failed`) : `${s.failed} failed`];
    if (s.skipped) parts.push(c.yellow(`${s.skipped} skipped`));
    this.o.write(`\n${parts.join(", ")} ${c.dim(`(${s.files} files, ${fmtMs(s.durationMs)})`)}\n`);
  }
}

function fmtMs(ms: number) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}
