import { describe, expect, test } from "bun:test";
import { hostAddress, parseSubnet, staticHosts, uplinkAddresses } from "../src/index";

describe("subnet addressing", () => {
  test("guests from the bottom, the uplink at the top, normalised network address", () => {
    const s = parseSubnet("10.0.3.77/24");
    expect(s).toEqual({ cidr: "10.0.3.0/24", base: 0x0a000300, prefix: 24 });
    expect(hostAddress(s, 1)).toBe("10.0.3.1");
    expect(staticHosts(s)).toBe(127);
    expect(uplinkAddresses(s)).toEqual({ gateway: "10.0.3.254", dns: "10.0.3.253", dhcpStart: "10.0.3.128" });
    expect(hostAddress(parseSubnet("192.168.0.0/16"), 300)).toBe("192.168.1.44");
  });
  test("bad subnets and a full subnet say what is wrong", () => {
    expect(() => parseSubnet("10.0.0.0")).toThrow('subnet must look like "10.0.1.0/24" (prefix 8 to 29), got "10.0.0.0"');
    expect(() => parseSubnet("10.0.300.0/24")).toThrow("subnet must look like");
    expect(() => parseSubnet("10.0.0.0/30")).toThrow("prefix 8 to 29");
    expect(() => hostAddress(parseSubnet("10.0.0.0/29"), 4)).toThrow("subnet 10.0.0.0/29 has room for 3 guests; guest 4 does not fit");
  });
});
