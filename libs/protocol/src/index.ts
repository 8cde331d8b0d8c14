export type { Plain } from "./wire";
export * from "./framing";
export * from "./connection";
export * from "./client";
export * from "./server";
export { protocolVersion } from "./generated/constants";
export * as schema from "./generated/agent";
export { connectUnix, type UnixConnection } from "./unix-socket";
export { connectAgent } from "./agent-socket";
