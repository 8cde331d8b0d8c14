// The human reporter: one line per test, failures in full, a summary.
import pc from "picocolors";
import type { RunEvent, Summary } from "../events";

export interface HumanOptions {
  verbose: boolean;
  quiet: boolean;
  write: (s: string) => void;
  color: boolean;
  /** Keep a live status line at the bottom (a TTY only). */
  live: boolean;
}

export class HumanReporter {
  private failures: RunEvent[] = [];
  private c: ReturnType<typeof pc.createColors>;

  constructor(private readonly o: HumanOptions) {
    this.c = pc.createColors(o.color);
  }

  // The live line: what is running now, redrawn under the per-test lines.
  private running = new Map<string, string>();
  private statusShown = false;

  private print(text: string) {
    if (this.statusShown) this.o.write("\r\x1b[2K");
    this.statusShown = false;
    this.o.write(text);
  }

  private status() {
    if (!this.o.live || !this.running.size) return;
    const parts = [...this.running].map(([file, what]) => `${file}: ${what}`);
    const line = `… ${parts.join(" | ")}`;
    const width = process.stdout.columns || 100;
    this.o.write(this.c.dim(line.length > width - 1 ? line.slice(0, width - 2) + "…" : line));
    this.statusShown = true;
  }

  onEvent(e: RunEvent) {
    this.show(e);
    if (e.file) {
      if (e.kind === "file_completed") this.running.delete(e.file);
      else if (e.kind === "test_started") this.running.set(e.file, e.test!);
      else if (e.kind === "progress") this.running.set(e.file, String(e.message));
      else if (e.kind === "file_dispatched") this.running.set(e.file, "starting");
      else if (e.kind === "vm_spawned") this.running.set(e.file, `booting ${e.vm}`);
      else if (e.kind === "fixture_build_started") this.running.set(e.file, `building fixture ${e.fixture}`);
    }
    if (this.o.live) {
      this.print("");
      this.status();
    }
  }

  private show(e: RunEvent) {
    const { c } = this;
    const out = (s: string) => this.print(s);
    const dur = e.duration_ms !== undefined ? c.dim(` (${fmtMs(e.duration_ms)})`) : "";
    switch (e.kind) {
      case "test_passed":
        if (!this.o.quiet) out(`${c.green("✓")} ${e.file} › ${e.test}${dur}\n`);
        break;
      case "test_failed":
        this.failures.push(e);
        out(`${c.red("✗")} ${e.file} › ${e.test}${dur}\n`);
        break;
      case "file_error":
        this.failures.push(e);
        out(`${c.red("✗")} ${e.file} ${c.red("(file failed)")}\n`);
        break;
      case "test_skipped":
        if (!this.o.quiet) out(`${c.yellow("-")} ${e.file} › ${e.test} ${c.dim(`skipped: ${e.reason}`)}\n`);
        break;
      case "fixture_build_done":
        if (!this.o.quiet) out(c.dim(`  … built fixture ${e.fixture} in ${fmtMs(Number(e.duration_ms))}\n`));
        break;
      case "vm_booted":
        // -v: how each VM booted ("warm" restored its shape's boot template).
        if (this.o.verbose && !this.o.quiet) out(c.dim(`  … ${e.file}: vm ${e.vm} booted ${bootLine(e)}\n`));
        break;
      case "progress":
        // On a TTY progress lives in the status line; elsewhere it is a line of its own.
        if (!this.o.quiet && (!this.o.live || this.o.verbose)) out(c.dim(`  … ${e.message}\n`));
        break;
      case "log":
        if (this.o.verbose) out(c.dim(`  ${e.file}${e.test ? ` › ${e.test}` : ""}: ${e.message}\n`));
        break;
    }
  }

  finish(s: Summary) {
    const { c } = this;
    if (this.statusShown) this.o.write("\r\x1b[2K");
    this.statusShown = false;
    for (const f of this.failures) {
      this.o.write(`\n${c.red(c.bold(f.kind === "file_error" ? `FAIL ${f.file}` : `FAIL ${f.file} › ${f.test}`))}\n`);
      if (f.meta && Object.keys(f.meta).length) this.o.write(c.dim(`meta: ${JSON.stringify(f.meta)}\n`));
      this.o.write(`${f.traceback ?? f.reason}\n`);
      for (const st of (f.streams as { label: string; opened_at: string; unread: string; eof: boolean }[] | undefined) ?? []) {
        this.o.write(c.dim(`--- open stream ${st.label} (opened at ${st.opened_at})${st.eof ? ", ended" : ""}: unread ---\n`));
        this.o.write(`${st.unread || "(nothing)"}\n`);
      }
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

function bootLine(e: RunEvent) {
  const ms = fmtMs(Number(e.boot_ms));
  if (e.warm) return `warm in ${ms} (boot template ${e.template})`;
  const saved = e.template_saved_ms !== undefined ? `; saved boot template ${e.template} in ${fmtMs(Number(e.template_saved_ms))}` : "";
  return `cold in ${ms}${e.cold_reason ? ` (${e.cold_reason}${saved})` : ""}`;
}

function fmtMs(ms: number) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}
