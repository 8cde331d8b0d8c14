#!/provium/bin/busybox sh
# Provium guest /init (PID 1). Prepares a usable userland, loads the virtio drivers and runs
# /provium/agent. Every tool is called through our own busybox: a user's initrd may ship
# different (or systemd-linked) mount/poweroff. No sleeps anywhere: boot time is test time.
bb=/provium/bin/busybox
$bb mkdir -p /proc /sys /dev /tmp /run /root /etc
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev 2>/dev/null
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts devpts /dev/pts 2>/dev/null
$bb mount -t tmpfs tmpfs /dev/shm
$bb mount -t tmpfs tmpfs /tmp
$bb mount -t tmpfs tmpfs /run

# Applets go to their usual /bin, /sbin, /usr/bin, /usr/sbin places; busybox never replaces an
# existing file, so a user rootfs keeps its own tools. (--install needs /proc/self/exe.)
$bb mkdir -p /bin /sbin /usr/bin /usr/sbin
$bb --install -s 2>/dev/null

# Order matters: each module needs the previous ones. Failures are fine (a user kernel may
# have the drivers built in, or already loaded).
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console; do
  [ -e /provium/modules/$m.ko ] && $bb insmod /provium/modules/$m.ko 2>/dev/null
done

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
cd /root
# Minimal identity files so localhost and uid 0 resolve; a user rootfs keeps its own.
[ -e /etc/hosts ] || echo "127.0.0.1 localhost" > /etc/hosts
[ -e /etc/passwd ] || echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
[ -e /etc/group ] || echo "root:x:0:" > /etc/group
$bb ip link set lo up 2>/dev/null

# The agent's glibc lives in /provium/lib and is used only by the agent: its own loader with
# --library-path (no LD_LIBRARY_PATH), so neither the user's libc nor the programs the agent
# starts are affected. A static (or script) agent runs directly.
# Run it as a child, not exec: busybox sh as PID 1 reaps the orphans the agent's children leave.
if [ -e /provium/lib/ld.so ]; then
  /provium/lib/ld.so --library-path /provium/lib --argv0 /provium/agent /provium/agent &
else
  /provium/agent &
fi
wait $!
status=$?
echo "provium-init: agent exited with status $status"
$bb sync
$bb poweroff -f
