// The human reporter: one line per test, failures in full, a summary.
import pc from "picocolors";
import type { RunEvent, Summary } from "../events";
import { fileLabel } from "../matrix";

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

  /** Text from elsewhere (--debug's prompt): the status line is cleared first, not drawn over. */
  interject(text: string) {
    this.print(text);
  }

  onEvent(e: RunEvent) {
    this.show(e);
    if (e.file) {
      const at = fileLabel(e);
      if (e.kind === "file_completed") this.running.delete(at);
      else if (e.kind === "test_started") this.running.set(at, e.test!);
      else if (e.kind === "progress") this.running.set(at, String(e.message));
      else if (e.kind === "file_dispatched") this.running.set(at, "starting");
      else if (e.kind === "vm_spawned") this.running.set(at, `booting ${e.vm}`);
      else if (e.kind === "fixture_build_started") this.running.set(at, `building fixture ${e.fixture}`);
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
    const file = fileLabel(e); // "[lts] tests/x.test.lua" under a matrix entry
    switch (e.kind) {
      case "test_passed":
        if (!this.o.quiet) out(`${c.green("✓")} ${file} › ${e.test}${dur}\n`);
        break;
      case "test_failed":
        this.failures.push(e);
        out(`${c.red("✗")} ${file} › ${e.test}${dur}\n`);
        break;
      case "file_error":
        this.failures.push(e);
        out(`${c.red("✗")} ${file} ${c.red("(file failed)")}\n`);
        break;
      case "test_skipped":
        if (!this.o.quiet) out(`${c.yellow("-")} ${file} › ${e.test} ${c.dim(`skipped: ${e.reason}`)}\n`);
        break;
      case "shard_planned":
        out(c.dim(`shard ${e.shard}: ${e.files} of ${e.of} files, expected ~${fmtMs(Number(e.expected_wall_ms))} (${fmtMs(Number(e.expected_ms))} of file time; spread ${Number(e.spread).toFixed(2)}: the slowest shard over the mean${e.unknown ? `; ${e.unknown} files without a recorded time count as the median` : ""})\n`));
        break;
      case "bench_result":
        if (!this.o.quiet) out(c.dim(`  … ${file} › ${e.test}: ${benchLine(e)}\n`));
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
      case "vm_spawned":
        // --gdb: where to point the debugger, whatever the verbosity
        if (e.gdb) out(c.cyan(`  … vm ${e.vm} (${e.file}): gdbstub on ${e.gdb}  (gdb -ex "target remote ${e.gdb}")\n`));
        break;
      case "log":
        if (this.o.verbose) out(c.dim(`  ${file}${e.test ? ` › ${e.test}` : ""}: ${e.message}\n`));
        break;
    }
  }

  finish(s: Summary) {
    const { c } = this;
    if (this.statusShown) this.o.write("\r\x1b[2K");
    this.statusShown = false;
    for (const f of this.failures) {
      this.o.write(`\n${c.red(c.bold(f.kind === "file_error" ? `FAIL ${fileLabel(f)}` : `FAIL ${fileLabel(f)} › ${f.test}`))}\n`);
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
    for (const [entry, m] of Object.entries(s.byMatrix ?? {}))
      this.o.write(c.dim(`  [${entry}] ${m.passed} passed, ${m.failed} failed${m.skipped ? `, ${m.skipped} skipped` : ""}\n`));
  }
}

// "median 12.3 ms over 10 samples (min 11.9, max 14.0)"
function benchLine(e: RunEvent) {
  const xs = [...((e.samples as number[]) ?? [])].sort((a, b) => a - b);
  if (!xs.length) return "no samples";
  const f = (x: number) => (Math.abs(x) < 10 ? x.toFixed(2) : x.toFixed(1));
  const unit = e.unit ? ` ${e.unit}` : "";
  return `median ${f(xs[Math.floor(xs.length / 2)]!)}${unit} over ${xs.length} samples (min ${f(xs[0]!)}, max ${f(xs.at(-1)!)})`;
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
