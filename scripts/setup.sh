#!/usr/bin/env bash
# Installs what Provium needs on a Debian/Ubuntu machine: QEMU, busybox, capnproto (for the
# protocol code generator), mmdebstrap and e2fsprogs (Debian guest images), chromium and gdb (for
# the tests of the HTML report and --gdb), Bun (from npm) and the node modules. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v capnpc >/dev/null || need+=(capnproto)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v zstd >/dev/null || need+=(zstd)
command -v xmllint >/dev/null || need+=(libxml2-utils)   # validates JUnit output in the tests
command -v cpio >/dev/null || need+=(cpio)               # checks the initramfs writer in the tests
command -v npm >/dev/null || need+=(nodejs npm)          # installs bun below; the registry round-trip test runs Verdaccio on Node
# Disk images (the debian profile and recipes): mmdebstrap builds the root filesystem from the
# host's apt sources, mke2fs -d makes it an ext4 image, qemu-img makes each VM's overlay.
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
PATH="$PATH:/usr/sbin:/sbin" command -v mke2fs >/dev/null || need+=(e2fsprogs)
command -v qemu-img >/dev/null || need+=(qemu-utils)
# The HTML report's browser test drives Debian's chromium (puppeteer-core, no browser download);
# the --gdb test asks Debian's gdb for the guest's registers.
command -v chromium >/dev/null || need+=(chromium)
command -v gdb >/dev/null || need+=(gdb)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# apt-get download (used to fetch the guest kernel) needs package lists.
[ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || $SUDO apt-get update -qq
if ! command -v bun >/dev/null; then
  echo "setup: installing bun from npm"
  $SUDO npm install -g bun@1.4.5 >/dev/null 2>&1 || npm install -g bun@1.4.5
fi
bun install --frozen-lockfile >/dev/null 2>&1 || bun install
echo "setup: done (bun $(bun --version), $(qemu-system-x86_64 --version | head -1))"
