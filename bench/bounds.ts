// The ratios `bun run bench` checks, in one place. Each compares two medians measured in the
// same run, on the same kernel, interleaved round by round, so machine load (TCG, other VMs
// on a 2-core host) moves both sides together and absolute times are never compared.
//
//   target: what issue #7 asked for on the reference machine (TCG, 2 cores); reported, met or
//           not (docs/performance.md says which are out of reach under TCG, and why).
//   bound:  where a run exits 1 (`--quick`, run by hand): a regression from what is measured today,
//           with headroom for the noise of a short run on a shared machine; see each why.
// `num` / `den` name measurements (see run.ts); "max" means num/den must stay at or under the
// number, "min" at or over it.

export interface RatioSpec {
  id: string;
  label: string;
  num: string;
  den: string;
  kind: "max" | "min";
  target: number;
  bound: number;
  why: string;
}

export const RATIOS: RatioSpec[] = [
  {
    id: "tiny_vs_floor",
    label: "stat / raw 16 B echo",
    num: "p.stat",
    den: "f.echo16",
    kind: "max",
    target: 4,
    bound: 8,
    why: "measured 2.4x-3.3x, both sides 10 back to back after an untimed first, the agent warmed up by 2,000 stats (its first 200 after boot: ~6x; the first after other ops: ~6x): a stat is answered on the agent's port reader thread (read, decode, statx, encode, write: ~0.35 ms under TCG against a ~0.15 ms echo); above 8x a thread hop (the main thread: ~0.7 ms more) or a copy is back on the path",
  },
  {
    id: "run_vs_peer",
    label: "qemu-ga exec+status / run(\"true\")",
    num: "q.exec_true",
    den: "p.run_true",
    kind: "min",
    target: 5,
    bound: 0.6,
    why: "measured 1.1x-1.4x: both pay a process start under TCG (sh -c true alone is 4.5-6.5 ms in the guest); under 0.6x our exec path (spawn, pipes, reply) has grown a cost of its own",
  },
  {
    id: "run_vs_floor",
    label: "run(\"true\") / process start + 16 B echo",
    num: "p.run_true",
    den: "f.run_true",
    kind: "max",
    target: 1.5,
    bound: 5,
    why: "the floor is one fork+exec of busybox /bin/true in the guest's shell (a loop of 10, net of its line round trip) plus one raw 16 B echo: a process start and a round trip, the least any agent pays. Measured 2.06x-2.20x (full runs, loads 2.6-6.5), 2.75x (a full run, load ~1) and 3.1x-3.4x (quick runs); above 5x the exec path (spawn, pipes, exit, reply) has grown a cost of its own",
  },
  {
    id: "read1m_vs_peer",
    label: "qemu-ga read 1 MiB / read_file 1 MiB",
    num: "q.read1m",
    den: "p.read1m",
    kind: "min",
    target: 5,
    bound: 8,
    why: "measured 14x-18x (read on the port reader thread into a kept buffer; the guest kernel copies without ERMS under TCG): qemu-ga pays base64 and JSON on 1 MiB; under 8x we copy or re-encode large Data again",
  },
  {
    id: "write1m_vs_peer",
    label: "qemu-ga write 1 MiB / write_file 1 MiB",
    num: "q.write1m",
    den: "p.write1m",
    kind: "min",
    target: 5,
    bound: 20,
    why: "measured 40x-47x (written on the port reader thread from the frame it read, no copy to the main thread; qemu-ga writes base64 through glib); under 20x the write path has lost its bulk reads or gained a copy",
  },
  {
    id: "read1m_vs_floor",
    label: "read_file 1 MiB / raw 1 MiB guest->host",
    num: "p.read1m",
    den: "f.g2h1m",
    kind: "max",
    target: 2,
    bound: 3.5,
    why: "measured 1.2x-1.6x: the file is read into a kept buffer and written to the port as it is; above 3.5x the port writes or the frame builder gained a copy or a thread hop",
  },
  {
    id: "write1m_vs_floor",
    label: "write_file 1 MiB / raw 1 MiB host->guest",
    num: "p.write1m",
    den: "f.h2g1m",
    kind: "max",
    target: 2,
    bound: 4,
    why: "measured 1.35x-1.95x (the guest kernel puts 1 MiB into tmpfs, which the floor's /dev/null does not); above 4x the frame goes through the main thread or a fresh buffer again",
  },
  {
    id: "batch_vs_one",
    label: "batch of 100 stat / one stat",
    num: "p.batch100",
    den: "p.stat",
    kind: "max",
    target: 10,
    bound: 25,
    why: "measured 9.7x (full run) and 12.5x (quick) once the batch path is warmed as stat is (150 batches before the rounds; 14x-22x without, the first 10 after boot are a row of their own), each batch one of 2 back to back: ~25-40 us per op in the guest (decode, statx, encode; ~18 us fully warm) against ~0.33 ms for one op's round trip; above 25x the batch lost its synchronous path (a promise per op) or its ops went to the main thread",
  },
  {
    id: "boot_vs_floor",
    label: "cold boot to agent ready / busybox boot to hello",
    num: "p.boot",
    den: "f.boot",
    kind: "max",
    target: 1.25,
    bound: 2.5,
    why: "same kernel, QEMU command line and cmdline; ours adds virtio_blk, the agent disk's mount and the agent's start (Bun's start-up, its JS, the reader thread: ~1.4 s of guest time under TCG, bench/images.ts). Measured 1.72x-1.88x before the start-up cuts, 1.62x-1.72x after (1.56x-1.70x in QEMU CPU time, bench/boot-ab.ts); a Bun agent that only answers hello: 1.59x (boot-ab.ts --bare), so the 1.25x target is out of reach for a Bun-compiled agent under TCG; above 2.5x the agent's start-up has grown (bytecode or the held-back JIT lost, more work before the port opens)",
  },
  {
    id: "warm_boot_vs_floor",
    label: "warm boot to agent ready / busybox boot to hello",
    num: "p.warm_boot",
    den: "f.boot",
    kind: "max",
    target: 0.25,
    bound: 0.6,
    why: "a warm boot restores the boot template of its shape (issue 25): a QEMU launched on the clock, the template's memory loaded, cont and the agent's first hello, which reseeds the clone's randomness and sets its clock (docs/performance.md has the figures). Above 0.6x the template is not used (every boot cold would be ~1.7x), or its load lost the fd hand-off",
  },
  {
    id: "restore_vs_floor",
    label: "restore to agent ready / busybox restore",
    num: "p.restore",
    den: "f.restore",
    kind: "max",
    target: 2,
    bound: 4,
    why: "a restore takes the QEMU its VM launched ahead for that snapshot (as reset_between_tests and snapshot:restore() do), so it is loading, cont and the agent's first answer; the busybox guest launches its QEMU on the clock (~130 ms here). Measured 0.51x (full run), 0.83x (quick); like for like (our launch on the clock too: the row 'QEMU launched on the clock') 1.28x-1.35x. Above 4x the spare is no longer used, the snapshot grew (e.g. the agent back in the initramfs) or a phase of the restore was serialised again",
  },
];

export function ratioOk(kind: "max" | "min", value: number, limit: number) {
  return kind === "max" ? value <= limit : value >= limit;
}
