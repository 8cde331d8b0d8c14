// The agent's files family run on the host (Linux with glibc, like the guest): wording of
// errors, handles, tails and raw calls. The same ops run on real guests in tests/files.
import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { files } from "../src/files";
import { Namespace } from "../src/namespace";
import type { ByteStream } from "../src/streams";

const dir = fs.mkdtempSync(join(tmpdir(), "provium-agent-files-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const ns = new Namespace(0);
// files() answers quick ops synchronously (and throws); as the server does, take both as a promise
const run = async (op: object): Promise<any> => files(op as never, ns);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("files family", () => {
  test("errors carry strerror's words and the errno name", async () => {
    await expect(run({ readFile: { path: join(dir, "nope") } })).rejects.toMatchObject({ message: "No such file or directory", code: "ENOENT" });
    await expect(run({ readFile: { path: dir } })).rejects.toMatchObject({ message: "Is a directory", code: "EISDIR" });
    fs.mkdirSync(join(dir, "full/x"), { recursive: true });
    await expect(run({ unlink: join(dir, "full") })).rejects.toMatchObject({ message: "Directory not empty", code: "ENOTEMPTY" });
    await expect(run({ read: { handle: 999, maxBytes: 1 } })).rejects.toMatchObject({ message: "no open file with handle 999", code: "EBADF" });
  });

  test("whole files in pieces: offset 0 replaces, later pieces write at their offset", async () => {
    const p = join(dir, "pieces");
    await run({ writeFile: { path: p, data: new TextEncoder().encode("hello world") } });
    await run({ writeFile: { path: p, data: new TextEncoder().encode("abc") } });
    await run({ writeFile: { path: p, data: new TextEncoder().encode("def"), offset: 3 } });
    expect(fs.readFileSync(p, "utf8")).toBe("abcdef");
    const r = await run({ readFile: { path: p, offset: 2, maxBytes: 3 } });
    expect([text(r.files.data.data), r.files.data.eof, r.files.data.size]).toEqual(["cde", false, 6]);
    expect((await run({ readFile: { path: "/proc/self/stat" } })).files.data.eof).toBe(true);
  });

  test("stat does not follow symlinks unless asked; perm and exact times", async () => {
    fs.writeFileSync(join(dir, "target"), "12345");
    fs.symlinkSync("target", join(dir, "link"));
    const l = (await run({ stat: { path: join(dir, "link") } })).files.stat;
    expect(l.type).toBe(3);
    const f = (await run({ stat: { path: join(dir, "link"), follow: true } })).files.stat;
    expect([f.type, Number(f.size)]).toEqual([1, 5]);
    expect(f.mtimeNs).toBe(fs.statSync(join(dir, "target"), { bigint: true }).mtimeNs);
  });

  test("stat reports every field as stat(2) does; a bad path fails with its errno", async () => {
    fs.writeFileSync(join(dir, "f"), "x".repeat(70_000));
    fs.chmodSync(join(dir, "f"), 0o4751);
    const want = fs.lstatSync(join(dir, "f"), { bigint: true });
    const got = (await run({ stat: { path: join(dir, "f") } })).files.stat;
    expect({ ...got, size: BigInt(got.size), ino: BigInt(got.ino), nlink: BigInt(got.nlink) }).toEqual({
      size: want.size, mtimeNs: want.mtimeNs, perm: 0o4751, type: 1, uid: Number(want.uid), gid: Number(want.gid), nlink: want.nlink, ino: want.ino,
    });
    expect((await run({ stat: { path: dir } })).files.stat.type).toBe(2);
    await expect(run({ stat: { path: join(dir, "nope") } })).rejects.toMatchObject({ message: "No such file or directory", code: "ENOENT" });
    await expect(run({ stat: { path: join(dir, "f", "under-a-file") } })).rejects.toMatchObject({ code: "ENOTDIR" });
    await expect(run({ stat: { path: `${dir}/f\0tail` } })).rejects.toMatchObject({ code: "EINVAL" });
    await expect(run({ stat: { path: "/" + "a".repeat(5000) } })).rejects.toMatchObject({ message: "File name too long", code: "ENAMETOOLONG" });
    await expect(run({ stat: { path: "/" + "a".repeat(4095) } })).rejects.toMatchObject({ code: "ENAMETOOLONG" }); // the longest that fits the buffer
    // ASCII paths are copied by a loop, others encoded: both, and the NUL check after non-ASCII
    fs.writeFileSync(join(dir, "café"), "ab");
    expect((await run({ stat: { path: join(dir, "café") } })).files.stat.size).toBe(2);
    await expect(run({ stat: { path: `${dir}/café\0f` } })).rejects.toMatchObject({ code: "EINVAL" });
    expect((await run({ stat: { path: join(dir, "f") } })).files.stat.size).toBe(70_000); // after longer paths
  });

  test("mkdir and open_file apply an explicit perm exactly", async () => {
    await run({ mkdir: { path: join(dir, "m"), perm: 0o777, hasPerm: true } });
    expect(fs.statSync(join(dir, "m")).mode & 0o7777).toBe(0o777);
    const o = (await run({ open: { path: join(dir, "o"), write: true, create: true, perm: 0o606, hasPerm: true } })).files.opened;
    expect(fs.statSync(join(dir, "o")).mode & 0o7777).toBe(0o606);
    await run({ close: o.handle });
    await run({ close: o.handle }); // idempotent
    await expect(run({ open: { path: join(dir, "o"), create: true } })).rejects.toMatchObject({ code: "EINVAL" });
  });

  test("handles: read, write, seek; a tail from the cursor; raw calls on the descriptor", async () => {
    const p = join(dir, "h");
    const o = (await run({ open: { path: p, read: true, write: true, create: true } })).files.opened;
    expect(Number((await run({ write: { handle: o.handle, data: new TextEncoder().encode("0123456789") } })).files.count)).toBe(10);
    expect(Number((await run({ seek: { handle: o.handle, offset: -4, whence: 2 } })).files.offset)).toBe(6);
    expect(text((await run({ read: { handle: o.handle, toEof: true } })).files.data.data)).toBe("6789");
    const s = ns.get<ByteStream>((await run({ fdStream: o.fd })).files.stream, "stream");
    fs.appendFileSync(p, "more");
    expect(text((await s.read(0, 2000)).data)).toBe("more");
    await run({ close: o.handle });
    fs.appendFileSync(p, "!"); // the stream has its own descriptor
    expect(text((await s.read(0, 2000)).data)).toBe("!");
    s.close();
    const raw = (await run({ syscall: { nr: 39 } })).files.raw; // getpid on x86_64
    if (process.arch === "x64") expect(raw.result).toBe(process.pid);
    // a failing ioctl raises with its errno (a failed syscall answers with it)
    const bad = await Promise.resolve(run({ ioctl: { args: [{ value: 987654 }, { value: 0x5401 }, { buf: 0 }], bufs: [{ size: 60 }] } })).catch((e) => e);
    expect([bad.code, bad.errno]).toEqual(["EBADF", 9]);
    const mem = (await run({ readMem: { addr: 0, len: 8 } })).files.raw; // page 0 is never mapped
    expect([mem.result, mem.errnoName]).toEqual([-1, "EIO"]);
  });
});
