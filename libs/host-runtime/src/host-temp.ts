// os.tmpname's files: one owned temp dir per test file, made on first use and removed when
// the file ends, at exit, or (after a SIGKILL) by the next run's sweep of owned temp dirs.
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { LazyTempDir } from "@provium/vmm";

export class HostTempFiles {
  private readonly dir = new LazyTempDir("tmp");

  /** A new empty file (created, as C's mkstemp does, so no one else gets the name). */
  create(): string {
    for (;;) {
      const path = join(this.dir.path, `lua_${randomBytes(6).toString("hex")}`);
      try {
        closeSync(openSync(path, "wx", 0o600));
        return path;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
    }
  }

  /** Removes every file made so far (the test file ended). */
  removeAll(): void {
    this.dir.remove();
  }
}
