#!/provium/bin/busybox sh
# Provium guest /init (PID 1). Prepares a usable userland, loads the virtio drivers and runs
# /provium/agent. Every tool is called through our own busybox: a user's initrd may ship
# different (or systemd-linked) mount/poweroff. No sleeps anywhere: boot time is test time.
#
# With provium.root=DEV on the kernel command line (disk images, e.g. the debian profile) it
# first mounts DEV, puts the agent on its /provium and switches into it, then runs again from
# there as /provium/init (PROVIUM_STAGE=root). The agent comes from the read-only disk named
# by provium.agent=DEV2, else from the initramfs by a bind mount; in that case the initramfs
# is not freed (as switch_root would), so the agent needs no copy and no room on the disk.
# With provium.agent=DEV alone (no root disk) the agent disk is mounted on /provium and the
# initramfs stays the root.
bb=/provium/bin/busybox
mounted() { $bb grep -q "^[^ ]* $1 " /proc/mounts 2>/dev/null; }
fail() {
  echo "provium-init: $*"
  $bb poweroff -f
}
$bb mkdir -p /proc /sys /dev /tmp /run /root /etc
mounted /proc || $bb mount -t proc proc /proc
mounted /sys || $bb mount -t sysfs sysfs /sys
mounted /dev || $bb mount -t devtmpfs devtmpfs /dev 2>/dev/null
cmdline=$($bb cat /proc/cmdline)
# provium.trace on the command line: timestamps (seconds since the kernel started) on the console.
trace() { :; }
case " $cmdline " in *" provium.trace "*) trace() { echo "provium-trace: $($bb cut -d' ' -f1 /proc/uptime) $*"; } ;; esac
trace "init ${PROVIUM_STAGE:-initramfs}"
# Host files of vm:boot({files}) arrive under /provium-files (an archive appended to the
# initrd): each goes into place under $1, with missing parents made; existing directories keep
# their modes (a cp -a of the tree would reset /tmp's).
place_files() {
  [ -d /provium-files ] || return 0
  (cd /provium-files && $bb find . ! -type d) | while IFS= read -r f; do
    $bb mkdir -p "$1/${f%/*}" && $bb cp -a "/provium-files/$f" "$1/$f"
  done
  $bb rm -rf /provium-files
}

if [ "$PROVIUM_STAGE" != root ]; then
  # The image lists each group's modules dependencies first (initramfs.ts, imageModules); a
  # module the kernel has built in is not shipped. Failures are fine (already loaded).
  load_modules() {
    [ -e /provium/modules/$1.order ] || return 0
    while read -r m; do $bb insmod /provium/modules/$m.ko 2>/dev/null; done < /provium/modules/$1.order
  }
  load_modules boot
  # NICs only when the host configures one (provium.net=, below): no cost for other VMs.
  case " $cmdline " in *" provium.net="*)
    load_modules net
    # Up now, addresses later (below): the interface sends at once (its queue is attached
    # when it opens with carrier), and the kernel's link watch, which marks it "up" (operstate,
    # IFF_RUNNING) up to ~1 s later under TCG, runs meanwhile. Nothing waits for it.
    for d in /sys/class/net/*; do $bb ip link set "${d##*/}" up 2>/dev/null; done
    trace "links up" ;;
  esac
  # Host directories (provium.share=, below): virtio-9p, loaded here where the modules are.
  case " $cmdline " in *" provium.share="*) load_modules share ;; esac
  trace "modules loaded"
  # vm:boot({rng_seed}): mixed into the entropy pool (not credited) before anything reads it.
  [ -e /provium-rng-seed ] && $bb cat /provium-rng-seed > /dev/urandom && $bb rm -f /provium-rng-seed
  root= agentdisk=
  for arg in $cmdline; do
    case $arg in
      provium.root=*) root=${arg#provium.root=} ;;
      provium.agent=*) agentdisk=${arg#provium.agent=} ;;
    esac
  done
  if [ -n "$root" ]; then
    # The disk's node normally exists once insmod returns; allow 5 s for a slow probe.
    n=0
    while [ ! -b "$root" ] && [ $n -lt 500 ]; do $bb usleep 10000; n=$((n + 1)); done
    [ -b "$root" ] || fail "root disk $root did not appear"
    $bb mkdir -p /newroot
    $bb mount -t ext4 -o noatime "$root" /newroot || fail "cannot mount root disk $root"
    $bb mkdir -p /newroot/provium /newroot/proc /newroot/sys /newroot/dev 2>/dev/null
    place_files /newroot
    if [ -n "$agentdisk" ]; then
      $bb mount -t ext4 -o ro "$agentdisk" /newroot/provium || fail "cannot mount the agent disk $agentdisk"
    else
      $bb mount --bind /provium /newroot/provium || fail "cannot bind /provium into the root disk"
    fi
    trace "root disk mounted"
    for d in /proc /sys /dev; do $bb mount --move $d /newroot$d; done
    cd /newroot
    $bb mount --move . / || fail "cannot switch to the root disk"
    export PROVIUM_STAGE=root
    exec $bb chroot . /provium/bin/busybox sh /provium/init
  elif [ -n "$agentdisk" ]; then
    # No root disk, but the agent on one (the minimal profile): it goes over the initramfs's
    # /provium (same busybox; the modules there are loaded already).
    n=0
    while [ ! -b "$agentdisk" ] && [ $n -lt 500 ]; do $bb usleep 10000; n=$((n + 1)); done
    $bb mount -t ext4 -o ro "$agentdisk" /provium || fail "cannot mount the agent disk $agentdisk"
    trace "agent disk mounted"
  fi
fi

$bb mkdir -p /dev/pts /dev/shm
mounted /dev/pts || $bb mount -t devpts devpts /dev/pts 2>/dev/null
mounted /dev/shm || $bb mount -t tmpfs tmpfs /dev/shm
# A root disk keeps /tmp on disk, as Debian does (the overlay has room; tmpfs would take RAM).
[ "$PROVIUM_STAGE" = root ] || $bb mount -t tmpfs tmpfs /tmp
$bb mount -t tmpfs tmpfs /run
# What udev would make: bash process substitution and /dev/stdin users need these.
[ -e /dev/fd ] || $bb ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || $bb ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || $bb ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || $bb ln -s /proc/self/fd/2 /dev/stderr

if [ "$PROVIUM_STAGE" != root ]; then
  # Applets go to their usual /bin, /sbin, /usr/bin, /usr/sbin places; busybox never replaces
  # an existing file, so a user rootfs keeps its own tools. (--install needs /proc/self/exe.)
  # A root disk is a real distribution: it gets no busybox applets.
  $bb mkdir -p /bin /sbin /usr/bin /usr/sbin
  $bb --install -s 2>/dev/null
fi
unset PROVIUM_STAGE

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
$bb mkdir -p /root
cd /root
# Minimal identity files so localhost and uid 0 resolve; a user rootfs keeps its own.
[ -e /etc/hosts ] || echo "127.0.0.1 localhost" > /etc/hosts
[ -e /etc/passwd ] || echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
[ -e /etc/group ] || echo "root:x:0:" > /etc/group
$bb ip link set lo up 2>/dev/null
place_files ""

# vm:power_button(): the ACPI power key (button.ko, an input event through evdev.ko) makes
# busybox acpid run PWRF/00000080 from its conf dir, which powers off. Kept under /run, out of
# a user rootfs's /etc.
if [ -e /sys/module/button ]; then
  $bb mkdir -p /run/provium-acpi/PWRF
  $bb printf '#!/provium/bin/busybox sh\n/provium/bin/busybox sync\n/provium/bin/busybox poweroff -f\n' > /run/provium-acpi/PWRF/00000080
  $bb chmod 755 /run/provium-acpi/PWRF/00000080
  $bb acpid -c /run/provium-acpi -l /run/provium-acpi/log -p /run/provium-acpi/pid 2>/dev/null
fi
# provium.net=MAC,ADDR/PREFIX, one per NIC on a bridge: the interface with that MAC gets the
# address and goes up before the agent starts, so it is configured once the agent answers.
# Shell builtins only in the loop (a fork costs tens of ms under TCG); the wait is bounded by
# the clock (5 s), not by a count.
clock() { read -r now _ < /proc/uptime; now=${now%.*}; } # whole seconds since boot, in $now
for arg in $cmdline; do
  case $arg in provium.net=*) ;; *) continue ;; esac
  mac=${arg#provium.net=}; addr=${mac#*,}; mac=${mac%%,*}
  # The interface exists once virtio_net has probed (normally at once).
  dev=; clock; end=$((now + 5))
  while :; do
    for d in /sys/class/net/*; do read -r a < $d/address && [ "$a" = "$mac" ] && dev=${d##*/}; done
    clock
    [ -n "$dev" ] || [ $now -ge $end ] && break
    $bb usleep 10000
  done
  [ -n "$dev" ] || { echo "provium-init: no network interface with MAC $mac"; continue; }
  $bb ip addr add "$addr" dev "$dev" && $bb ip link set "$dev" up || echo "provium-init: cannot configure $dev ($addr)"
  trace "$dev has $addr"
done
trace "network configured"

# provium.share=TAG,DIR[,ro], one per shared host directory (vm:boot's or a profile's `shares`):
# the virtio-9p export TAG is mounted on DIR before the agent starts. A share that does not
# mount stops the boot, naming it (a test would otherwise find an empty directory).
for arg in $cmdline; do
  case $arg in provium.share=*) ;; *) continue ;; esac
  v=${arg#provium.share=}; tag=${v%%,*}; dir=${v#*,}; mode=rw
  case $dir in *,ro) dir=${dir%,ro}; mode=ro ;; esac
  $bb mkdir -p "$dir" && $bb mount -t 9p -o "trans=virtio,version=9p2000.L,msize=262144,$mode" "$tag" "$dir" || fail "cannot mount share $tag on $dir (9p over virtio: does the kernel have 9p, 9pnet_virtio?)"
  trace "share $tag on $dir"
done

# The agent's glibc lives in /provium/lib and is used only by the agent: its own loader with
# --library-path (no LD_LIBRARY_PATH), so neither the user's libc nor the programs the agent
# starts are affected. A static (or script) agent runs directly.
trace "starting the agent"
# provium.noftl (the host adds it under TCG, see accelCmdline): no FTL tier for the agent's JIT,
# whose compiles cost the guest's vCPU hundreds of ms each there. The agent drops the variable
# from its own environment, so the commands it runs do not inherit it.
case " $cmdline " in *" provium.noftl "*) export BUN_JSC_useFTLJIT=0 ;; esac
case " $cmdline " in *" provium.trace "*) export PROVIUM_TRACE=1 ;; esac
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
