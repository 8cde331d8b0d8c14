// @provium/agent: the guest agent. Its program is main.ts, which the host compiles into each
// guest image (`bun build --compile`, see @provium/vmm's ensureAgentBinary); this door says
// where that program is, and lends its parts to other guest programs (bench's bare agent and
// spawn floor). Nothing here runs the agent.
import { fileURLToPath } from "node:url";

/** The agent program's entry file; its worker entries are named in this package's package.json. */
export const agentEntry = fileURLToPath(new URL("./main.ts", import.meta.url));
export { findPort } from "./port";
export { helloReply } from "./hello";
export { toFailure } from "./errors";
export { exec } from "./exec";
