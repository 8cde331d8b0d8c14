// os.tmpname's files: one owned temp dir per test file, made on first use and removed when
// the file ends, at exit, or (after a SIGKILL) by the next run's sweep of owned temp dirs.
import { closeSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { onProcessExit, ownedTempDir } from "@provium/vmm";

export class HostTempFiles {
  private dir: string | null = null;
  private forgetDir = () => {};

  /** A new empty file (created, as C's mkstemp does, so no one else gets the name). */
  create(): string {
    if (!this.dir) {
      const dir = (this.dir = ownedTempDir("tmp"));
      this.forgetDir = onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
    }
    for (;;) {
      const path = join(this.dir, `lua_${randomBytes(6).toString("hex")}`);
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
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.forgetDir();
    this.dir = null;
  }
}
