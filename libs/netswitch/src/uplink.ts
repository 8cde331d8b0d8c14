// The way out of a bridge to the host's network, without root: a QEMU with no guest
// (`-machine none`) whose user-mode network (slirp: NAT, DHCP, DNS) sits on a hub with a
// stream netdev connected to the switch as one more port. Guests reach the gateway, and through
// it the host's network; a host's 127.0.0.1 is the gateway's address from the guest.
import type { Subprocess } from "bun";
import { DIE_WITH_PARENT, findQemu, onProcessExit } from "@provium/vmm";
import { uplinkAddresses, type Subnet } from "./addressing";
import type { Switch } from "./switch";

export const UPLINK_PORT = "uplink";
const qv = (s: string) => s.replace(/,/g, ",,");

export class Uplink {
  private constructor(
    private readonly sw: Switch,
    private readonly proc: Subprocess<"ignore", "ignore", "pipe">,
    private readonly unregister: () => void,
  ) {}

  /** The uplink's QEMU command line (the switch's port `socket` must already listen). */
  static argv(qemu: string, subnet: Subnet, socket: string): string[] {
    const a = uplinkAddresses(subnet);
    return [
      qemu, "-machine", "none", "-nodefaults", "-display", "none",
      "-netdev", `user,id=up,net=${subnet.cidr},host=${a.gateway},dns=${a.dns},dhcpstart=${a.dhcpStart}`,
      "-netdev", `stream,id=sw,server=off,addr.type=unix,addr.path=${qv(socket)}`,
      "-netdev", "hubport,id=h0,hubid=0,netdev=up",
      "-netdev", "hubport,id=h1,hubid=0,netdev=sw",
    ];
  }

  /** Open the uplink port on `sw` and start its QEMU; resolves once QEMU is connected. */
  static async start(sw: Switch, subnet: Subnet, opts: { qemuBinary?: string; timeoutMs?: number } = {}): Promise<Uplink> {
    const socket = sw.addPort(UPLINK_PORT);
    const argv = Uplink.argv(findQemu(opts.qemuBinary), subnet, socket);
    const proc = Bun.spawn([...DIE_WITH_PARENT, ...argv], { stdio: ["ignore", "ignore", "pipe"] }) as Subprocess<"ignore", "ignore", "pipe">;
    const unregister = onProcessExit(() => proc.kill("SIGKILL"));
    const up = new Uplink(sw, proc, unregister);
    const deadline = performance.now() + (opts.timeoutMs ?? 10_000);
    while (sw.connections(UPLINK_PORT) === 0) {
      if (proc.exitCode !== null || performance.now() > deadline) {
        const err = proc.exitCode !== null ? await new Response(proc.stderr).text() : "no connection";
        up.stop();
        throw new Error(`the uplink's QEMU did not connect to the bridge: ${err.trim()}\ncommand: ${argv.join(" ")}`);
      }
      await Bun.sleep(10);
    }
    return up;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Kill the QEMU and close the port. */
  stop(): void {
    this.unregister();
    this.proc.kill("SIGKILL");
    this.sw.removePort(UPLINK_PORT);
  }
}
