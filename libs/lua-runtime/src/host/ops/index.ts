// Every guest op family; each op works alone and inside vm:batch.
import { agentOps, execOps } from "./exec";
import { streamOps } from "./streams";
import { processOps } from "./process";
import { fileOps } from "./files";

export const guestOps = { ...execOps, ...agentOps, ...streamOps, ...processOps, ...fileOps };
export type GuestOpName = keyof typeof guestOps;
