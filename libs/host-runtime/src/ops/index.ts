// Every guest op family; each op works alone and inside vm:batch.
import { agentOps, execOps } from "./exec";
import { streamOps } from "./streams";
import { processOps } from "./process";
import { fileOps } from "./files";
import { clockOps } from "./clock";

export const guestOps = { ...execOps, ...agentOps, ...streamOps, ...processOps, ...fileOps, ...clockOps };
export type GuestOpName = keyof typeof guestOps;
