import { describe, expect, test } from "bun:test";
import { AgentClient, AgentServer, FrameReader, encodeFrame, decodeFrame, GuestError, AgentConnectionError, protocolVersion, FrameError } from "../src";

// Client and server joined in memory; `tamper` lets a test corrupt what the server sends.
function pair(handle: ConstructorParameters<typeof AgentServer>[1], opts: { maxFrame?: number; tamper?: (b: Uint8Array) => Uint8Array } = {}) {
  let server!: AgentServer;
  const client = new AgentClient(
    { write: (b) => void queueMicrotask(() => server.receive(b)), close() {} },
    { maxFrame: opts.maxFrame },
  );
  server = new AgentServer(
    { write: (b) => void queueMicrotask(() => client.receive(opts.tamper ? opts.tamper(b) : b)), close() {} },
    handle,
    (e) => ({ message: String((e as Error).message), errno: 0, errnoName: "" }),
  );
  return { client, server };
}

const echoExec = (req: any) => {
  if (req.op.exec) return { exec: { exitCode: 0, signal: 0, timedOut: false, stdout: new TextEncoder().encode(req.op.exec.argv.join(" ")), stderr: new Uint8Array() } };
  throw new Error("unsupported");
};

describe("codec and framing", () => {
  test("a frame round-trips with Data, lists and nested unions", () => {
    const bytes = new Uint8Array([0, 255, 1, 0, 128]);
    const f = decodeFrame(encodeFrame({ request: { id: 7, worker: 2, op: { exec: { argv: ["a", "b"], stdin: bytes, timeoutMs: 5, env: [{ name: "X", value: "1" }] } } } }).subarray(4));
    expect(f.request!.id).toBe(7);
    expect(f.request!.op!.exec!.argv).toEqual(["a", "b"]);
    expect([...f.request!.op!.exec!.stdin!]).toEqual([...bytes]);
    expect(f.request!.op!.exec!.env).toEqual([{ name: "X", value: "1" }]);
    expect(f.request!.op!.hello).toBeUndefined();
  });

  test("a Void union member and a batch survive", () => {
    const f = decodeFrame(encodeFrame({ request: { id: 1, op: { batch: [{ id: 1, op: { stats: true } }] } } }).subarray(4));
    expect(f.request!.op!.batch![0]!.op).toEqual({ stats: true });
  });

  test("frames split at every byte boundary reassemble", () => {
    const a = encodeFrame({ response: { id: 1, hello: { protocolVersion: 1, agentVersion: "x", bootMs: 3 } } });
    const b = encodeFrame({ response: { id: 2, stats: { requests: 9 } } });
    const all = new Uint8Array([...a, ...b]);
    const r = new FrameReader();
    const got: Uint8Array[] = [];
    for (const byte of all) got.push(...r.push(new Uint8Array([byte])));
    expect(got.map((g) => decodeFrame(g).response!.id)).toEqual([1, 2]);
    expect(r.buffered).toBe(0);
  });

  test("an oversized length is refused before any allocation", () => {
    const r = new FrameReader(1024);
    expect(() => r.push(new Uint8Array([0xff, 0xff, 0xff, 0x7f]))).toThrow(/exceeds the 1024-byte limit/);
  });

  test("random garbage never decodes into something silently", () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff);
    for (let i = 0; i < 2000; i++) {
      const body = new Uint8Array(8 + (i % 200)).map(rnd);
      try {
        decodeFrame(body);
      } catch (e) {
        expect(e).toBeInstanceOf(FrameError);
      }
    }
  });
});

describe("client and server", () => {
  test("hello checks the protocol version", async () => {
    const { client } = pair(() => ({ hello: { agentVersion: "test" } }));
    expect((await client.hello()).protocolVersion).toBe(protocolVersion);
  });

  test("a synchronous handler is answered before serve returns, hello and batches too", () => {
    // The agent's port reader thread never runs an event loop: what it serves must be written
    // at once.
    const out: Uint8Array[] = [];
    const server = new AgentServer({ write: (b) => void out.push(b), close() {} }, (req: any) => (req.op.hello ? { hello: { agentVersion: "sync" } } : echoExec(req)), (e) => ({ message: String(e), errno: 0, errnoName: "" }));
    server.serve({ id: 1, op: { hello: { protocolVersion } } });
    server.serve({ id: 2, op: { batch: [{ id: 1, op: { hello: { protocolVersion } } }, { id: 2, op: { exec: { argv: ["x"] } } }] } });
    const replies = out.map((b) => decodeFrame(b.subarray(4)).response!);
    expect(replies.map((r) => r.id)).toEqual([1, 2]);
    expect(replies[0]!.hello).toEqual({ protocolVersion, agentVersion: "sync", bootMs: 0, reseeded: false });
    expect(replies[1]!.batch!.map((r) => r.hello?.agentVersion ?? new TextDecoder().decode(r.exec!.stdout))).toEqual(["sync", "x"]);
  });

  test("a version mismatch is a clear error", async () => {
    const { client } = pair(() => ({ hello: { agentVersion: "old" } }), {
      tamper: (b) => encodeFrame({ response: { id: decodeFrame(b.subarray(4)).response!.id, hello: { protocolVersion: 999, agentVersion: "old" } } }),
    });
    expect(client.hello()).rejects.toThrow(/protocol version mismatch.*v999.*v1/);
  });

  test("many requests in flight are matched by id, out of order", async () => {
    const { client } = pair(async (req: any) => {
      await Bun.sleep(Number(req.op.exec.argv[0]));
      return echoExec(req);
    });
    const delays = [30, 1, 15, 5, 0];
    const got = await Promise.all(delays.map((d) => client.call({ exec: { argv: [String(d)] } })));
    expect(got.map((g) => new TextDecoder().decode(g.stdout))).toEqual(delays.map(String));
  });

  test("a guest failure is a GuestError carrying the errno", async () => {
    const { client } = pair(() => { throw new Error("nope"); });
    const e = await client.call({ exec: { argv: ["x"] } }).catch((e) => e);
    expect(e).toBeInstanceOf(GuestError);
    expect(e.message).toBe("nope");
  });

  test("a batch answers every member in order, failures included", async () => {
    const { client, server } = pair((req: any) => (req.op.exec.argv[0] === "bad" ? (() => { throw new Error("bad op"); })() : echoExec(req)));
    const r = await client.call({ batch: [{ id: 1, op: { exec: { argv: ["a"] } } }, { id: 2, op: { exec: { argv: ["bad"] } } }, { id: 3, op: { exec: { argv: ["c"] } } }] });
    expect(r.map((x) => (x.error ? x.error.message : new TextDecoder().decode(x.exec!.stdout)))).toEqual(["a", "bad op", "c"]);
    expect(server.requests).toBe(1);
  });

  test("a hostile frame fails pending requests and the connection, not the host", async () => {
    const { client } = pair(async () => { await Bun.sleep(5); return { hello: {} }; }, { maxFrame: 64, tamper: () => new Uint8Array([0, 0, 0, 1, 1, 2]) });
    const e = await client.request({ stats: true }).catch((e) => e);
    expect(e).toBeInstanceOf(AgentConnectionError);
    expect(e.message).toMatch(/exceeds the 64-byte limit/);
    expect(client.request({ stats: true })).rejects.toThrow(/exceeds/);
  });

  test("an answer to an unknown id closes the connection", async () => {
    const { client } = pair(() => ({ hello: {} }), { tamper: () => encodeFrame({ response: { id: 4242, stats: { requests: 1 } } }) });
    const e = await client.request({ stats: true }).catch((e) => e);
    expect(e.message).toMatch(/unknown request id 4242/);
  });
});
