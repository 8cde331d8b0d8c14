// Boot-time measurement: QemuVm.launch -> first byte on the agent socket, minimal profile
// (overlay-only initrd, Debian cloud kernel), accel chosen by chooseAccel("auto").
// usage: bun libs/vmm/bench/boot.ts [runs=5] [shell|bun]
//   shell: test/fixtures/hello-agent.sh as the agent (boot cost alone)
//   bun:   a bun-compiled stand-in agent (adds ~110 MB of initramfs and bun's start-up)
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import { cacheRoot, chooseAccel, ensureAgentBinary, ensureDebianKernel, ensureImage, QemuVm } from "../src/index";

const runs = Number(process.argv[2] ?? 5);
const kind = process.argv[3] ?? "shell";
const fixtures = path.join(import.meta.dir, "..", "test", "fixtures");
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "provium-vmm-bench-"));
try {
  const k = await ensureDebianKernel({ cacheDir: cacheRoot() });
  const agentBinary = kind === "bun" ? await ensureAgentBinary({ cacheDir, entry: path.join(fixtures, "bun-agent/src/main.ts") }) : path.join(fixtures, "hello-agent.sh");
  const img = await ensureImage({ cacheDir, kernel: k.kernel, moduleDir: k.moduleDir, injectAgent: true, agentBinary });
  const accel = await chooseAccel("auto", { cacheDir: cacheRoot() });
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const vm = await QemuVm.launch({ name: "bench", kernel: img.kernel, initrd: img.initrd, memoryMiB: kind === "bun" ? 512 : 256, cpus: 1, accel });
    try {
      times.push(await new Promise<number>((resolve, reject) => {
        const s = net.createConnection(vm.agentSocket);
        s.once("data", () => { resolve(performance.now() - t0); s.end("0\n"); });
        s.on("error", reject);
      }));
    } finally {
      await vm.shutdown({ graceMs: 0 });
    }
  }
  times.sort((a, b) => a - b);
  console.log(`${kind} agent, accel=${accel}, initrd ${(fs.statSync(img.initrd!).size / 2 ** 20).toFixed(1)} MiB: launch -> first agent byte median ${times[times.length >> 1]!.toFixed(0)} ms [${times.map((t) => t.toFixed(0)).join(" ")}]`);
} finally {
  fs.rmSync(cacheDir, { recursive: true, force: true });
}
