// The reference guests of `bun run bench`, on the same kernel, machine type and QEMU command
// line as a Provium guest (QemuVm.launch, ensureDebianKernel): a busybox initramfs serving a
// raw echo on the virtio-serial port (the floor), and Debian's qemu-guest-agent (the peer).
// Images are built with encodeCpio and cached under <cache>/bench/ by their inputs.
import * as fs from "node:fs";
import * as path from "node:path";
import { agentLibraries, contentKey, encodeCpio, ensureDebianKernel, findStaticBusybox, findVirtioModules, hashFile, QemuVm, type CpioEntry, withParents } from "@provium/vmm";

// Every guest finds its port by name: QemuVm names it provium.agent.
const FIND_PORT = `
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console; do
  [ -e /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
done
PORT=
while [ -z "$PORT" ]; do
  for p in /sys/class/virtio-ports/vport*; do
    [ "$(cat $p/name 2>/dev/null)" = provium.agent ] && [ -e /dev/\${p##*/} ] && PORT=/dev/\${p##*/}
  done
  [ -n "$PORT" ] || usleep 1000
done
`;

export const PRELUDE = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox --install -s /bin
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
${FIND_PORT}`;

/**
 * The floor: a line protocol in busybox sh on the port (as the anchors' guest-init.sh `serve`):
 *   ping -> pong (shell builtins, no fork); echo N -> echoes N bytes back as they come (dd);
 *   sink N -> reads N bytes, answers ok; src N -> writes N zero bytes;
 *   true N -> starts /bin/true N times one after another (fork + exec of busybox), answers ok.
 * "hello" first, once the host is connected. EOF on the port means no host: wait and retry.
 */
export const FLOOR_INIT = `${PRELUDE}
exec 3<>$PORT
echo hello >&3
while :; do
  if ! read -r cmd arg <&3; then usleep 1000; continue; fi
  case $cmd in
    ping) echo pong >&3 ;;
    echo) dd bs=65536 count=$arg iflag=count_bytes <&3 >&3 2>/dev/null ;;
    sink) dd bs=65536 count=$arg iflag=fullblock,count_bytes of=/dev/null <&3 2>/dev/null; echo ok >&3 ;;
    src)  dd if=/dev/zero bs=65536 count=$arg iflag=count_bytes 2>/dev/null >&3 ;;
    true) i=0; while [ $i -lt $arg ]; do /bin/true; i=$((i + 1)); done; echo ok >&3 ;;
    off)  poweroff -f ;;
  esac
done
`;

/** The peer: qemu-ga on the port, a 1 MiB file of random bytes to read. */
export const PEER_INIT = `${PRELUDE}
head -c 1048576 /dev/urandom > /tmp/file1m
exec /usr/sbin/qemu-ga -m virtio-serial -p $PORT -t /run -f /run/qga.pid
`;

export function baseEntries(moduleDir: string, init: string): CpioEntry[] {
  const entries: CpioEntry[] = [
    { type: "char", path: "dev/console", major: 5, minor: 1, mode: 0o600 },
    ...["proc", "sys", "tmp", "run", "sbin", "usr/bin", "usr/sbin"].map((p): CpioEntry => ({ type: "dir", path: p })),
    { type: "file", path: "bin/busybox", data: fs.readFileSync(findStaticBusybox()), mode: 0o755 },
    { type: "file", path: "init", data: new TextEncoder().encode(init), mode: 0o755 },
  ];
  for (const m of findVirtioModules(moduleDir)) entries.push({ type: "file", path: `lib/modules/${m.name}.ko`, data: m.data, mode: 0o644 });
  return entries;
}

function cached(cacheDir: string, name: string, key: string, build: () => CpioEntry[]): string {
  const dir = path.join(cacheDir, "bench");
  const file = path.join(dir, `${name}-${key.slice(0, 16)}.cpio`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (f.startsWith(`${name}-`) && f.endsWith(".cpio")) fs.rmSync(path.join(dir, f), { force: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, encodeCpio(withParents(build())));
  fs.renameSync(tmp, file);
  return file;
}

export interface RefImage {
  kernel: string;
  initrd: string;
}

export async function floorImage(cacheDir: string): Promise<RefImage> {
  const k = await ensureDebianKernel({ cacheDir });
  const key = contentKey(["floor-v1", hashFile(k.kernel), hashFile(findStaticBusybox()), FLOOR_INIT]);
  return { kernel: k.kernel, initrd: cached(cacheDir, "floor", key, () => baseEntries(k.moduleDir, FLOOR_INIT)) };
}

/**
 * qemu-ga from the host (/usr/sbin/qemu-ga, package qemu-guest-agent), else the package
 * fetched with `apt-get download` (no root) and unpacked into the cache. Its libraries are
 * the host's, found with ldd, as anchors/mkinitramfs.sh --qga does.
 */
async function findQemuGa(cacheDir: string): Promise<string> {
  if (fs.existsSync("/usr/sbin/qemu-ga")) return "/usr/sbin/qemu-ga";
  const dir = path.join(cacheDir, "bench", "qemu-guest-agent");
  const bin = path.join(dir, "x", "usr", "sbin", "qemu-ga");
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  const dl = Bun.spawnSync(["apt-get", "download", "qemu-guest-agent"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const deb = fs.readdirSync(dir).find((f) => f.endsWith(".deb"));
  if (!dl.success || !deb) throw new Error(`no qemu-ga: install qemu-guest-agent, or let \`apt-get download qemu-guest-agent\` work (${dl.stderr.toString().trim()})`);
  const x = Bun.spawnSync(["dpkg-deb", "-x", path.join(dir, deb), path.join(dir, "x")], { stdout: "pipe", stderr: "pipe" });
  if (!x.success || !fs.existsSync(bin)) throw new Error(`dpkg-deb -x ${deb} failed: ${x.stderr.toString().trim()}`);
  return bin;
}

export async function peerImage(cacheDir: string): Promise<RefImage & { qemuGa: string }> {
  const k = await ensureDebianKernel({ cacheDir });
  const qemuGa = await findQemuGa(cacheDir);
  const deps = agentLibraries(qemuGa);
  if (!deps) throw new Error(`${qemuGa} is not a dynamic ELF executable`);
  const libs = [deps.interp, ...deps.libs];
  const key = contentKey(["peer-v1", hashFile(k.kernel), hashFile(findStaticBusybox()), hashFile(qemuGa), PEER_INIT, ...libs.flatMap((l) => [l, hashFile(l)])]);
  const initrd = cached(cacheDir, "peer", key, () => [
    ...baseEntries(k.moduleDir, PEER_INIT),
    { type: "file", path: "usr/sbin/qemu-ga", data: fs.readFileSync(qemuGa), mode: 0o755 },
    ...libs.map((l): CpioEntry => ({ type: "file", path: l, data: fs.readFileSync(l), mode: 0o755 })),
  ]);
  return { kernel: k.kernel, initrd, qemuGa };
}

export interface RefVmOptions {
  name: string;
  image: RefImage;
  memoryMiB: number;
  cmdline: string;
  accel: "kvm" | "tcg";
  extraArgs?: string[];
  fds?: number[];
}

export function launchRef(o: RefVmOptions) {
  return QemuVm.launch({ name: o.name, kernel: o.image.kernel, initrd: o.image.initrd, cmdline: o.cmdline, memoryMiB: o.memoryMiB, cpus: 1, accel: o.accel, extraArgs: o.extraArgs, fds: o.fds });
}
