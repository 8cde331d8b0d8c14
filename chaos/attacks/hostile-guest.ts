// A hostile guest: the agent replaced by a busybox script that answers garbage, answers
// nothing, floods the port with one endless frame, or answers hello correctly and garbage
// after. Each boot (or the op after a good hello) must fail naming the cause within the boot
// timeout, and the next test file must pass.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot, encodeCpio, ensureDebianKernel, withParents } from "@provium/vmm";
import { encodeFrame, protocolVersion } from "@provium/protocol";
import { PRELUDE, baseEntries } from "@provium/test-kit";
import { countLeftovers, provium, suite } from "../harness";
import { newRow, type AttackResult } from "../table";

// Long enough for a slow machine's kernel to reach the hostile script before the deadline.
const BOOT_TIMEOUT_S = 20;
const TEST_TIMEOUT_S = BOOT_TIMEOUT_S + 10;
const FOREVER = "while :; do sleep 1000; done";

// mode -> its init (after PRELUDE found $PORT), and what the failure must name
export const MODES: Record<string, { init: string; names: RegExp; op?: string }> = {
  // (random bytes may announce a frame under the limit that never completes: named as such)
  garbage: { init: `exec 3<>$PORT\nhead -c 65536 /dev/urandom >&3\n${FOREVER}`, names: /undecodable frame|exceeds the|too short|bad frame|unknown request id|request frame|unfinished frame/ },
  // 1000 bytes announced, 10 sent, then nothing
  unfinished: { init: `exec 3<>$PORT\nprintf '\\350\\003\\000\\000abcdefghij' >&3\n${FOREVER}`, names: /it sent 14 bytes of an unfinished frame announced as 1000 bytes/ },
  silent: { init: `exec 3<>$PORT\n${FOREVER}`, names: new RegExp(`did not answer within ${BOOT_TIMEOUT_S} s`) },
  // a length prefix of 80 MiB (little-endian), then zeros without end
  flood: { init: `exec 3<>$PORT\nprintf '\\000\\000\\000\\005' >&3\ncat /dev/zero >&3\n${FOREVER}`, names: /undecodable frame|message|bad frame/ },
  // hello after 3 s (within the boot timeout), then nothing: the op after it hits the test's timeout
  slow: {
    init: `exec 3<>$PORT\ndd bs=1 count=8 <&3 of=/dev/null 2>/dev/null\nsleep 3\ncat /hello.bin >&3\n${FOREVER}`,
    names: new RegExp(`timed out after ${TEST_TIMEOUT_S} s`),
    op: `vm:run("true")`,
  },
  "hello, then garbage": {
    init: `exec 3<>$PORT\ndd bs=1 count=8 <&3 of=/dev/null 2>/dev/null\ncat /hello.bin >&3\nsleep 2\nhead -c 4096 /dev/urandom >&3\n${FOREVER}`,
    names: /undecodable frame|exceeds the|too short|bad frame|unknown request id|request frame/,
    op: `vm:run("true")`,
  },
};

export async function hostileImages(dir: string) {
  const k = await ensureDebianKernel({ cacheDir: cacheRoot() });
  const hello = encodeFrame({ response: { id: 1, hello: { protocolVersion, agentVersion: "hostile", bootMs: 0 } } });
  const profiles: string[] = [];
  for (const [mode, { init }] of Object.entries(MODES)) {
    const name = `hostile-${mode.replace(/\W+/g, "-")}`;
    const initrd = join(dir, `${name}.cpio`);
    const entries = [...baseEntries(k.moduleDir, `${PRELUDE}\n${init}\n`), { type: "file" as const, path: "hello.bin", data: hello, mode: 0o644 }];
    writeFileSync(initrd, encodeCpio(withParents(entries)));
    profiles.push(`[profiles.${name}]\nkernel = ${JSON.stringify(k.kernel)}\ninitrd = ${JSON.stringify(initrd)}\ninject_agent = false\nagent_boot_timeout = ${BOOT_TIMEOUT_S}\n`);
  }
  writeFileSync(join(dir, "provium.toml"), profiles.join("\n"));
}

export async function hostileGuest(o: { rounds: number; modes?: string[] }): Promise<AttackResult[]> {
  const modes = Object.entries(MODES).filter(([mode]) => !o.modes || o.modes.includes(mode));
  const r = newRow(`hostile guest (${modes.map(([m]) => m).join(", ")})`);
  const files: Record<string, string> = {};
  modes.forEach(([mode, m], i) => {
    const profile = `hostile-${mode.replace(/\W+/g, "-")}`;
    files[`${i + 1}-${profile}.test.lua`] = `test(${JSON.stringify(mode)}, {timeout = "${TEST_TIMEOUT_S}s"}, function(t)\n  local vm = provium:vm("h", "${profile}"):boot()\n  ${m.op ?? ""}\nend)\n`;
  });
  files["9-after.test.lua"] = `local vm = provium:vm("after", "minimal"):boot()\ntest("the next file passes", function(t) t:assert_eq(vm:run("echo ok").stdout, "ok\\n") end)\n`;
  for (let round = 0; round < o.rounds; round++) {
    const dir = suite(files);
    await hostileImages(dir);
    // The hostile profiles' boots time out after BOOT_TIMEOUT_S; the last file's, as usual.
    const run = await provium(dir, ["-j", "1", "--timeout", "180s", "."]);
    r.peakMiB = Math.max(r.peakMiB, run.peakRssMiB);
    for (const [mode, { names }] of modes) {
      r.tries++;
      const e = run.events.find((x) => x.test === mode && (x.kind === "test_failed" || x.kind === "test_passed"));
      if (!e) r.hangs++;
      // within the boot timeout, plus the boot itself and a margin for a loaded machine
      else if (e.kind === "test_failed" && names.test(e.reason) && e.duration_ms < (BOOT_TIMEOUT_S + 20) * 1000) r.namedFailures++;
      else r.notes.push(`${mode}: ${e.kind} after ${e.duration_ms} ms: ${String(e.reason ?? "").split("\n")[0]}`);
    }
    r.tries++;
    if (run.events.some((x) => x.kind === "test_passed" && x.test === "the next file passes")) r.namedFailures++;
    else r.notes.push(`the file after the hostile guests did not pass: ${JSON.stringify(run.events.filter((x) => x.file?.startsWith("9-") && /failed|error/.test(x.kind)).map((x) => x.reason)).slice(0, 600)}`);
    await countLeftovers(r, run.pid);
  }
  return [r];
}
