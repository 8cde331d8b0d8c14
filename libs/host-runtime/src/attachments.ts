// t:attach(name, path_or_string): what a test adds to its report (a pcap capture, a log, a
// config it generated). The bytes travel inside the run's events (base64), so saved events
// render the same report; past ATTACH_MAX bytes an attachment is cut and says so.
import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";

export const ATTACH_MAX = 8 << 20;

export interface Attachment {
  name: string;
  /** the attachment's size before any cut */
  bytes: number;
  /** base64 of its first ATTACH_MAX bytes */
  data: string;
  truncated: boolean;
  /** the host file it was read from, if it was one */
  source?: string;
}

/**
 * `value`: a string naming an existing host file (absolute, or relative to the test file's
 * directory `dir`) attaches that file; any other string (or byte string) attaches itself.
 * `path` is always a file (it must exist), `data` always the bytes themselves.
 */
export function readAttachment(a: { name: string; value?: string | Uint8Array; path?: string; data?: string | Uint8Array; dir: string }): Attachment {
  if (!a.name || typeof a.name !== "string") throw new Error("t:attach: name must be a non-empty string");
  let data: Uint8Array;
  let source: string | undefined;
  if (a.data !== undefined) a = { ...a, value: a.data };
  const asPath = a.path ?? (a.data === undefined && typeof a.value === "string" && a.value.length < 4096 && !a.value.includes("\n") ? a.value : undefined);
  const file = asPath !== undefined ? (isAbsolute(asPath) ? asPath : resolve(a.dir, asPath)) : undefined;
  if (file && existsSync(file) && statSync(file).isFile()) {
    data = readFileSync(file);
    source = file;
  } else if (a.path !== undefined) {
    throw new Error(`t:attach: no such host file: ${file}`);
  } else {
    data = typeof a.value === "string" ? Buffer.from(a.value) : (a.value ?? new Uint8Array());
  }
  const truncated = data.length > ATTACH_MAX;
  return { name: a.name, bytes: data.length, data: Buffer.from(data.subarray(0, ATTACH_MAX)).toString("base64"), truncated, source };
}
