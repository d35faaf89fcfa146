/**
 * Wire facts, written once: header lengths, field offsets (from the start of
 * their header), ethertypes and protocol numbers of Ethernet, 802.1Q, IPv4,
 * IPv6 and UDP, as the data plane and the protocol codecs read and write
 * them. Offsets say which RFC field they are; nothing here is mcr's choice.
 */

// ---- Ethernet (IEEE 802.3) and 802.1Q --------------------------------------
/** Destination MAC, source MAC, ethertype. */
export const ETH_HLEN = 14;
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
/** An 802.1Q tag: TPID and TCI, before the inner ethertype. */
export const VLAN_HLEN = 4;
/** The 12-bit VLAN id inside a TCI. */
export const VLAN_VID_MASK = 0x0fff;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;

// ---- IPv4 (RFC 791) ---------------------------------------------------------
/** A header without options (IHL 5). */
export const IPV4_HLEN = 20;
export const IP4_TOS = 1;
export const IP4_TOTAL_LEN = 2;
export const IP4_ID = 4;
/** Flags (3 bits) and fragment offset (13 bits, 8-byte units). */
export const IP4_FRAG = 6;
export const IP4_TTL = 8;
export const IP4_PROTO = 9;
export const IP4_CHECK = 10;
export const IP4_SRC = 12;
export const IP4_DST = 16;
/** "More fragments" in the flags/offset word. */
export const IP4_MF = 0x2000;
export const IP4_OFFSET_MASK = 0x1fff;

// ---- IPv6 (RFC 8200) --------------------------------------------------------
export const IPV6_HLEN = 40;
export const IP6_PAYLOAD_LEN = 4;
export const IP6_NEXT_HEADER = 6;
export const IP6_HOP_LIMIT = 7;
export const IP6_SRC = 8;
export const IP6_DST = 24;
/** Extension headers mcr walks (next-header values). */
export const NH_HOP_BY_HOP = 0;
export const NH_ROUTING = 43;
export const NH_FRAGMENT = 44;
export const NH_DEST_OPTIONS = 60;
/** The fragment extension header's length. */
export const FRAGMENT_HLEN = 8;

// ---- protocol numbers (IANA) ------------------------------------------------
export const IPPROTO_IGMP = 2;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_PIM = 103;

// ---- UDP (RFC 768) ----------------------------------------------------------
export const UDP_HLEN = 8;
export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LEN = 4;
export const UDP_CHECK = 6;

/** Offset of the TTL (IPv4) or hop limit (IPv6) in an IP header of `family`. */
export function ttlOffset(family: number): number {
  return family === 4 ? IP4_TTL : IP6_HOP_LIMIT;
}
