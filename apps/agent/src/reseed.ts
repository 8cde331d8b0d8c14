// A warm boot's clone makes its randomness its own before it answers: the host's bytes are
// credited to the kernel's input pool (RNDADDENTROPY) and the CRNG is reseeded from it at once
// (RNDRESEEDCRNG), so /dev/urandom, getrandom() and /proc/sys/kernel/random/uuid of two clones
// of one template differ from their first read. Debian's cloud kernel has no VMGENID driver to
// do this on its own (QEMU's vmgenid device is there for kernels that have it).
import { closeSync, openSync } from "node:fs";
import { dlopen, type Pointer } from "bun:ffi";
import { errnoError } from "./rawcalls";

// linux/random.h: _IOW('R', 0x03, int[2]) and _IO('R', 0x07)
const RNDADDENTROPY = 0x40085203;
const RNDRESEEDCRNG = 0x5207;

let libc: ReturnType<typeof open> | null = null;
function open() {
  return dlopen("libc.so.6", {
    ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" },
  }).symbols;
}

function fail(what: string): never {
  const e = errnoError();
  throw Object.assign(new Error(`reseeding the guest's randomness: ${what}: ${e.message}`), { code: e.code, errno: e.errno });
}

/** Credits `entropy` (all of its bits) to the input pool, then reseeds the CRNG from it. */
export function reseed(entropy: Uint8Array) {
  const lib = (libc ??= open());
  // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
  const words = Math.ceil(entropy.length / 4);
  const info = new Uint8Array(8 + words * 4);
  const head = new Int32Array(info.buffer, 0, 2);
  head[0] = entropy.length * 8;
  head[1] = entropy.length;
  info.set(entropy, 8);
  const fd = openSync("/dev/urandom", "w");
  try {
    if (lib.ioctl(fd, RNDADDENTROPY, info as unknown as Pointer) !== 0) fail("RNDADDENTROPY");
    if (lib.ioctl(fd, RNDRESEEDCRNG, null) !== 0) fail("RNDRESEEDCRNG");
  } finally {
    closeSync(fd);
  }
}
