// NIC launch options: the argv for a stream netdev on a switch port, the guest's address on
// the command line, and the checks made before QEMU starts. (Guests on a real switch:
// libs/netswitch/test/guests.test.ts.)
import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { QemuVm } from "../src/index";
import { removeTempDirs, sharedKernel, tempDir } from "./helpers";

afterAll(removeTempDirs);

async function launchWith(nic: any) {
  const k = await sharedKernel();
  return QemuVm.launch({ name: "n", kernel: k.kernel, memoryMiB: 64, cpus: 1, accel: "tcg", nics: [nic] });
}

describe("NIC options", () => {
  test("a NIC is a stream netdev to its socket plus a virtio-net device, its address on the command line", async () => {
    const dir = tempDir("nic");
    const socket = path.join(dir, "p,0.sock");
    const server = Bun.listen({ unix: socket, socket: { data() {} } });
    const vm = await launchWith({ id: "n0", socket, mac: "52:54:00:01:00:02", address: "10.0.1.2/24" });
    try {
      const argv = vm.argv.join(" ");
      expect(argv).toContain(`-netdev stream,id=n0,server=off,addr.type=unix,addr.path=${path.join(dir, "p,,0.sock")} -device virtio-net-pci,netdev=n0,mac=52:54:00:01:00:02,romfile=`);
      expect(vm.argv[vm.argv.indexOf("-append") + 1]).toContain("provium.net=52:54:00:01:00:02,10.0.1.2/24");
      // QEMU connected to the port: its netdev has a peer (the connect completes after QMP is up,
      // later on a loaded host).
      let info = "";
      for (let i = 0; i < 100 && !info.includes("n0: index=0,type=stream,unix:"); i++, await Bun.sleep(100)) info = await vm.qmp.execute("human-monitor-command", { "command-line": "info network" });
      expect(info).toContain("n0: index=0,type=stream,unix:");
    } finally {
      await vm.shutdown({ graceMs: 0 });
      server.stop(true);
    }
  }, 30_000);

  test("bad NIC options fail before QEMU starts, saying what is wrong", async () => {
    const dir = tempDir("nic");
    const socket = path.join(dir, "s.sock");
    const server = Bun.listen({ unix: socket, socket: { data() {} } });
    try {
      await expect(launchWith({ id: "0n", socket, mac: "52:54:00:01:00:02" })).rejects.toThrow('NIC id must be a letter then letters, digits, - or _ (at most 31), got "0n"');
      await expect(launchWith({ id: "n0", socket, mac: "53:54:00:01:00:02" })).rejects.toThrow('NIC n0: mac must be a unicast "52:54:00:xx:xx:xx", got "53:54:00:01:00:02"');
      await expect(launchWith({ id: "n0", socket, mac: "52:54:00:01:00:02", address: "10.0.1.2" })).rejects.toThrow('NIC n0: address must look like "10.0.1.2/24", got "10.0.1.2"');
      const missing = path.join(dir, "none.sock");
      await expect(launchWith({ id: "n0", socket: missing, mac: "52:54:00:01:00:02" })).rejects.toThrow(`NIC n0: no switch listening on ${missing}`);
      fs.writeFileSync(missing, "");
      await expect(launchWith({ id: "n0", socket: missing, mac: "52:54:00:01:00:02" })).rejects.toThrow("no switch listening");
    } finally {
      server.stop(true);
    }
  });
});
