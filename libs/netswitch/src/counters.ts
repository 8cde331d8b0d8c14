// What a NIC's counters say, from the guest's side as `ip -s link` would: tx is what the guest
// sent into the bridge, rx what the bridge delivered to it.
export interface NicCounters {
  rx_packets: number;
  rx_bytes: number;
  tx_packets: number;
  tx_bytes: number;
  /** frames this NIC sent that the bridge dropped (one per destination: partition, drop rate,
   *  a full bandwidth queue) plus frames for it dropped because it did not read them */
  dropped: number;
  /** frames from this NIC the switch refused: shorter than an Ethernet header, or a record
   *  too long (its connection was dropped) */
  errors: number;
}

export const zeroCounters = (): NicCounters => ({ rx_packets: 0, rx_bytes: 0, tx_packets: 0, tx_bytes: 0, dropped: 0, errors: 0 });
