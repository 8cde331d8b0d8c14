// --debug's terminal: the prompt a failed test opens on its live VMs reads lines here (the
// main thread owns stdin; the test's Lua runs in a worker). Lines typed ahead wait their turn.
import { createInterface, type Interface } from "node:readline";

export class DebugConsole {
  private rl: Interface | null = null;
  private lines: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private ended = false;
  /** the user typed .stop: the run dispatches no more files */
  stopRequested = false;

  constructor(private readonly out: (s: string) => void) {}

  private open() {
    if (this.rl) return this.rl;
    const rl = (this.rl = createInterface({ input: process.stdin, output: process.stdout, terminal: !!process.stdin.isTTY }));
    rl.on("line", (l) => (this.waiting ? this.deliver(l) : this.lines.push(l)));
    rl.on("close", () => ((this.ended = true), this.deliver(null)));
    // Ctrl-C at the prompt stops the run as it does elsewhere (readline would swallow it).
    rl.on("SIGINT", () => process.emit("SIGINT"));
    return rl;
  }

  private deliver(line: string | null) {
    const w = this.waiting;
    this.waiting = null;
    if (line?.trim() === ".stop") this.stopRequested = true;
    w?.(line);
  }

  read(prompt: string): Promise<string | null> {
    const rl = this.open();
    return new Promise((resolve) => {
      this.waiting = resolve;
      if (this.lines.length) return this.deliver(this.lines.shift()!);
      if (this.ended) return this.deliver(null);
      rl.setPrompt(prompt);
      rl.prompt();
    });
  }

  write(text: string) {
    this.out(text);
  }

  close() {
    this.rl?.close();
  }
}
