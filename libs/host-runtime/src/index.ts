// The host half of a test file's runtime (the Lua half is ../lua): its session and what a
// caller needs to run one.
export type { Profile, RuntimeConfig } from "./config";
export { builtinProfiles, unknownProfile } from "./config";
export type { HostApi, HostOpName, Target } from "./host-api";
export { FileSession, type SessionOptions } from "./session";
export { hostSetup, openRemoteCache, openSession, agentDeadlineMs, type HostSetup } from "./open-session";
export { GuestDispatch } from "./guest-dispatch";
export { guestOps, type GuestOpName } from "./ops";
export { GuestVm, type VmSnapshot, type VmSpec, type VmEvent } from "./guest";
export { CapacityPool, hostCapacity, DEFAULT_CPU_OVERCOMMIT, type Amount } from "./capacity";
export { parseMemory } from "./memory-size";
export { openFixtureCache, lazyFixtureCache } from "./fixture-cache";
export { keyOf, type FixtureHost } from "./fixtures";
export { luaFileDeps } from "./lua-deps";
export { parseShares } from "./shares";
export type { OpRecord } from "./op-timeline";
export { FAILURE_CONSOLE_LINES } from "./session";
