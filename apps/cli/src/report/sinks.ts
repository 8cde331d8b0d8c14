// Where events go besides the terminal: a JSON-lines file, a unix socket a tool listens on.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { connectUnix, type UnixConnection } from "@provium/protocol";
import type { RunEvent } from "../events";

export interface Sink {
  write(e: RunEvent): void;
  close(): Promise<void> | void;
}

export function fileSink(path: string): Sink {
  writeFileSync(path, "");
  return { write: (e) => appendFileSync(path, JSON.stringify(e) + "\n"), close() {} };
}

/** Streams JSON lines to a unix socket that another program (an editor, a dashboard) listens on. */
export async function socketSink(path: string): Promise<Sink> {
  let conn: UnixConnection;
  try {
    conn = await connectUnix(path);
  } catch (e) {
    throw new Error(`--events-socket: cannot connect to ${path}: ${(e as Error).message} (start the listener first)`);
  }
  return {
    write: (e) => conn.write(JSON.stringify(e) + "\n"),
    close: async () => {
      await conn.flushed();
      conn.end();
    },
  };
}

export function readEvents(path: string): RunEvent[] {
  return parseEvents(readFileSync(path, "utf8"), path);
}

/** JSON-lines events (as --save-events writes them); `name` is where they came from, for errors. */
export function parseEvents(text: string, name: string): RunEvent[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as RunEvent;
      } catch {
        throw new Error(`${name}:${i + 1}: not a JSON event line`);
      }
    });
}
