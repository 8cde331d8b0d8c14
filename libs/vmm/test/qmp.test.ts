import { afterAll, describe, expect, test } from "bun:test";
import * as net from "node:net";
import * as path from "node:path";
import { QmpClient, QmpError } from "../src/index";
import { removeTempDirs, tempDir } from "./helpers";

afterAll(removeTempDirs);

/** A scripted QMP server: greeting, capabilities, then `handle` for every other command. */
function fakeQmp(handle: (cmd: any, sock: net.Socket) => void): { path: string; server: net.Server } {
  const p = path.join(tempDir("qmp"), "qmp.sock");
  const server = net.createServer((sock) => {
    sock.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } }) + "\n");
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const cmd = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (cmd.execute === "qmp_capabilities") sock.write(JSON.stringify({ return: {}, id: cmd.id }) + "\n");
        else handle(cmd, sock);
      }
    });
    sock.on("error", () => {});
  });
  return { path: p, server };
}

describe("QMP client", () => {
  test("waits for the socket, handshakes, matches replies and delivers events", async () => {
    const { path: p, server } = fakeQmp((cmd, sock) => {
      if (cmd.execute === "query-status") {
        // an event before the reply, and the reply split across writes
        sock.write(JSON.stringify({ event: "RESUME", timestamp: { seconds: 1, microseconds: 2 } }) + "\n");
        const reply = JSON.stringify({ return: { status: "running", running: true }, id: cmd.id }) + "\n";
        sock.write(reply.slice(0, 10));
        setTimeout(() => sock.write(reply.slice(10)), 20);
      } else if (cmd.execute === "bogus") {
        sock.write(JSON.stringify({ error: { class: "CommandNotFound", desc: "The command bogus has not been found" }, id: cmd.id }) + "\n");
      }
    });
    const connecting = QmpClient.connect(p, { deadlineMs: 5000 });
    await Bun.sleep(100); // the socket appears late, as when QEMU is still starting
    server.listen(p);
    const qmp = await connecting;
    try {
      expect(qmp.greeting.version.qemu.major).toBe(7);
      const events: string[] = [];
      qmp.on("*", (e) => events.push(e.event));
      const resumed = qmp.once("RESUME");
      expect(await qmp.execute("query-status")).toEqual({ status: "running", running: true });
      expect((await resumed).timestamp).toEqual({ seconds: 1, microseconds: 2 });
      expect(events).toEqual(["RESUME"]);
      const err = await qmp.execute("bogus").catch((e) => e);
      expect(err).toBeInstanceOf(QmpError);
      expect(err.errorClass).toBe("CommandNotFound");
      expect(err.message).toContain("The command bogus has not been found");
    } finally {
      qmp.close();
      server.close();
    }
  });

  test("an oversized line closes the connection with an error", async () => {
    const { path: p, server } = fakeQmp((cmd, sock) => {
      sock.write(Buffer.alloc(2 << 20, 0x61)); // 2 MiB, no newline
    });
    server.listen(p);
    const qmp = await QmpClient.connect(p, { maxLineBytes: 1 << 20 });
    try {
      await expect(qmp.execute("query-status")).rejects.toThrow(/QMP line over/);
      expect((await qmp.closed)?.message).toMatch(/QMP line over/);
    } finally {
      server.close();
    }
  });

  test("gives up at the deadline when nothing listens", async () => {
    const t0 = performance.now();
    await expect(QmpClient.connect(path.join(tempDir("qmp"), "none.sock"), { deadlineMs: 200 })).rejects.toThrow(/not reachable/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
