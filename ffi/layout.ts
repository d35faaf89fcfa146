/**
 * Byte offsets and flags of the kernel's AF_PACKET ring structures, named for
 * the fields they reflect (<linux/if_packet.h>). The data plane reads rings
 * through a DataView using these; ffi/library.ts checks every value against
 * mcr_layout() (offsetof() in C) when the native library loads.
 */

// ---- TPACKET_V3 RX ring: struct tpacket_block_desc ------------------------
/** u32 block_status: TP_STATUS_KERNEL (0) or TP_STATUS_USER (1) | flags. */
export const BLK_STATUS = 8;
/** u32 num_pkts: packets in this block. */
export const BLK_NUM_PKTS = 12;
/** u32 offset_to_first_pkt: from the block start to the first tpacket3_hdr. */
export const BLK_FIRST_PKT = 16;

// ---- TPACKET_V3 RX ring: struct tpacket3_hdr (one per packet) ---------------
/** u32 tp_next_offset: from this header to the next one in the block (0 = last). */
export const TP3_NEXT_OFFSET = 0;
/** u32 tp_snaplen: bytes captured. */
export const TP3_SNAPLEN = 12;
/** u32 tp_len: bytes on the wire. */
export const TP3_LEN = 16;
/** u32 tp_status: TP_STATUS_* flags of this packet. */
export const TP3_STATUS = 20;
/** u16 tp_mac: from this header to the Ethernet header. */
export const TP3_MAC = 24;
/** u32 tp_sec, tp_nsec: the kernel's receive time of the packet (CLOCK_REALTIME). */
export const TP3_SEC = 4;
export const TP3_NSEC = 8;
/** u32 hv1.tp_vlan_tci: VLAN tag stripped by the NIC (valid with TP_STATUS_VLAN_VALID). */
export const TP3_VLAN_TCI = 32;
/** sizeof(struct tpacket3_hdr): a packet's header must fit before its block's end. */
export const TP3_HDR_SIZE = 48;

// ---- TPACKET_V2 TX ring: struct tpacket2_hdr (one per frame) ----------------
/** u32 tp_status: TP_STATUS_AVAILABLE / SEND_REQUEST / SENDING / WRONG_FORMAT. */
export const TP2_STATUS = 0;
/** u32 tp_len: bytes to send. */
export const TP2_LEN = 4;
/**
 * Where a TX frame's data starts: TPACKET2_HDRLEN - sizeof(struct sockaddr_ll),
 * which is also sizeof(struct tpacket2_hdr): an RX frame's packet cannot start before it.
 */
export const TP2_DATA = 32;

// ---- TPACKET_V2 RX ring (frames mode): the same struct tpacket2_hdr ----------
/** u32 tp_snaplen: bytes captured. */
export const TP2_SNAPLEN = 8;
/** u16 tp_mac: from the frame start to the Ethernet header. */
export const TP2_MAC = 12;
/** u32 tp_sec, tp_nsec: the kernel's receive time of the packet (CLOCK_REALTIME). */
export const TP2_SEC = 16;
export const TP2_NSEC = 20;
/** u16 tp_vlan_tci: the VLAN tag the kernel took out of the frame (valid with TP_STATUS_VLAN_VALID). */
export const TP2_VLAN_TCI = 24;

// ---- status words ------------------------------------------------------------
/** RX block/packet owned by user space. */
export const TP_STATUS_USER = 1;
/** RX packet's transport checksum is not finished (TX offload on the sender, e.g. veth). */
export const TP_STATUS_CSUMNOTREADY = 8;
/** RX packet had a VLAN tag that the NIC stripped into tp_vlan_tci. */
export const TP_STATUS_VLAN_VALID = 16;
/** TX frame free for user space. */
export const TP_STATUS_AVAILABLE = 0;
/** TX frame handed to the kernel, to be sent at the next kick. */
export const TP_STATUS_SEND_REQUEST = 1;
/** TX frame being sent (on veth: until the receiving CPU takes it). */
export const TP_STATUS_SENDING = 2;
/** TX frame the kernel refused (malformed); user space must reset it. */
export const TP_STATUS_WRONG_FORMAT = 4;

/** The values above in the order of enum mcr_layout_slot in c/mcr.h. */
export const EXPECTED_LAYOUT: readonly number[] = [
  BLK_STATUS,
  BLK_NUM_PKTS,
  BLK_FIRST_PKT,
  TP3_NEXT_OFFSET,
  TP3_SNAPLEN,
  TP3_LEN,
  TP3_STATUS,
  TP3_MAC,
  TP3_VLAN_TCI,
  TP2_STATUS,
  TP2_LEN,
  TP2_DATA,
  TP_STATUS_USER,
  TP_STATUS_CSUMNOTREADY,
  TP_STATUS_VLAN_VALID,
  TP_STATUS_SEND_REQUEST,
  TP_STATUS_SENDING,
  TP_STATUS_WRONG_FORMAT,
  TP2_SNAPLEN,
  TP2_MAC,
  TP2_SEC,
  TP2_NSEC,
  TP3_SEC,
  TP3_NSEC,
  TP2_VLAN_TCI,
  TP3_HDR_SIZE,
];
