export type { Plain } from "./wire";
export * from "./framing";
export * from "./connection";
export * from "./client";
export * from "./server";
export { protocolVersion } from "./generated/constants";
export * as schema from "./generated/agent";
export { connectUnix, type UnixConnection } from "./unix-socket";
export { connectAgent } from "./agent-socket";
/** The schema's structs as the codec sees them (fields, offsets, unions): for fuzzers that build frames of every shape. */
export { structs as wireStructs } from "./generated/wire";
