// @provium/netswitch: a userspace Ethernet switch for QEMU guests (unix stream sockets, no
// root): MAC learning, per-direction impairments, counters, captures and pcap files, uplink.
export { Switch, type SwitchState } from "./switch";
export { ImpairmentTable, type Impairment, type ImpairmentState } from "./impairments";
export { type NicCounters } from "./counters";
export { FrameQueue, PcapSink, PcapStream, type CaptureSink, type CapturedFrame } from "./capture";
export { PcapWriter, pcapHeader, pcapRecord } from "./pcap";
export { RecordReader, FrameError, encodeRecord, parseMac, formatMac, MAX_FRAME } from "./frames";
export { parseSubnet, hostAddress, staticHosts, uplinkAddresses, type Subnet } from "./addressing";
export { Uplink, UPLINK_PORT } from "./uplink";
