// Turns what a handler threw into the wire's Failure: message, errno and its name.
import { constants } from "node:os";

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

export function toFailure(e: unknown) {
  const err = e as NodeJS.ErrnoException;
  const name = typeof err?.code === "string" && err.code.startsWith("E") ? err.code : "";
  const errno = name ? (constants.errno as Record<string, number>)[name] ?? Math.abs(err.errno ?? 0) : 0;
  return { message: String(err?.message ?? e), errno, errnoName: name || errnoNames.get(errno) || "" };
}
