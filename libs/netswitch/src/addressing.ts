// IPv4 addressing of a bridge's subnet: static guest addresses from the bottom half, and the
// top for the uplink (QEMU user networking's gateway, DNS and DHCP pool), so the two never meet.

export interface Subnet {
  /** "10.0.1.0/24" as given, normalised */
  cidr: string;
  base: number;
  prefix: number;
}

const toInt = (ip: string): number | null => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
};
export const ipString = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/** Parse "a.b.c.d/p" (p from 8 to 29: room for guests, the gateway and DNS); throws naming what is wrong. */
export function parseSubnet(cidr: string): Subnet {
  const m = /^([^/]+)\/(\d+)$/.exec(cidr);
  const ip = m ? toInt(m[1]!) : null;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === null || !(prefix >= 8 && prefix <= 29)) throw new Error(`subnet must look like "10.0.1.0/24" (prefix 8 to 29), got ${JSON.stringify(cidr)}`);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  const base = (ip & mask) >>> 0;
  return { cidr: `${ipString(base)}/${prefix}`, base, prefix };
}

const size = (s: Subnet) => 2 ** (32 - s.prefix);

/** How many guests get a static address (the bottom half, less the network address). */
export const staticHosts = (s: Subnet) => size(s) / 2 - 1;

/** The n-th static guest address (n from 1), as "10.0.1.n". */
export function hostAddress(s: Subnet, n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > staticHosts(s)) throw new Error(`subnet ${s.cidr} has room for ${staticHosts(s)} guests; guest ${n} does not fit`);
  return ipString(s.base + n);
}

/** Where the uplink sits: gateway and DNS at the top of the subnet, the DHCP pool in the top half. */
export function uplinkAddresses(s: Subnet): { gateway: string; dns: string; dhcpStart: string } {
  const top = s.base + size(s) - 1; // broadcast
  return { gateway: ipString(top - 1), dns: ipString(top - 2), dhcpStart: ipString(s.base + size(s) / 2) };
}
