/**
 * UDP GSO input: a sender on the same host (a container on a bridge or
 * veth) may hand the link one frame carrying several datagrams, with the
 * segment size in the virtio_net_hdr the kernel writes before the frame
 * (PACKET_VNET_HDR, an input with `gso`). The loop relays each datagram on
 * its own; this module lays them out, in place, in the RX slot.
 *
 * Segment k's payload already sits at udp + 8 + k * size. Its headers
 * (Ethernet, tags, IP with options or extension headers, UDP) are copied to
 * just before it, over the tail of segment k - 1, which has been relayed by
 * then (a copy into a TX frame or a routed batch is made at once). Then its
 * lengths are set, IPv4 gets the next identification (as the kernel's own
 * segmentation gives it) and a fresh header checksum, and the UDP checksum
 * field the pseudo-header sum of a partial checksum, which the loop finishes
 * over the segment as it does for any TP_STATUS_CSUMNOTREADY frame.
 */
import { fold16, ipv4HeaderChecksum, sumWords } from "../net/checksum.ts";

/** sizeof(struct virtio_net_hdr): it ends where the frame's MAC header begins. */
export const VNET_HDR_LEN = 10;
/**
 * Most datagrams one GSO frame may carry: the kernel's own limit for a UDP
 * GSO send (UDP_MAX_SEGMENTS). A frame claiming more (a tiny segment size in
 * a header a local sender forged) would make the loop relay tens of
 * thousands of copies of one frame: it is dropped as bad_header instead.
 */
export const GSO_MAX_SEGMENTS = 128;

/** virtio_net_hdr.gso_type for UDP segmentation (VIRTIO_NET_HDR_GSO_UDP_L4); 0x80 is the ECN bit. */
const GSO_UDP_L4 = 5;

/** The segment size of a UDP GSO frame whose MAC header is at `mac`, or 0 if it is an ordinary frame. */
export function gsoSegmentSize(view: DataView, mac: number): number {
  const hdr = mac - VNET_HDR_LEN;
  if ((view.getUint8(hdr + 1) & 0x7f) !== GSO_UDP_L4) return 0;
  return view.getUint16(hdr + 4, true); // little-endian: native on x86, as the kernel writes it
}

/** Where a GSO frame's parts are (absolute offsets), set by the caller from the parse. */
export interface GsoFrame {
  mac: number;
  ip: number;
  udp: number;
  family: number;
  /** UDP payload bytes of the whole frame. */
  payload: number;
}

/**
 * Lays out datagram k of `f` (segments of `size` bytes) and returns where its
 * frame starts; its length is `segmentFrameLength()`. Segment 0 is patched
 * where it is; segment k > 0 takes its headers from segment k - 1's, which
 * must have been laid out (and relayed) just before.
 */
export function layOutSegment(
  view: DataView,
  bytes: Uint8Array,
  f: GsoFrame,
  size: number,
  k: number,
): number {
  const headers = f.udp + 8 - f.mac;
  const start = k === 0 ? f.mac : f.mac + k * size;
  if (k > 0) bytes.copyWithin(start, start - size, start - size + headers);
  const ip = start + (f.ip - f.mac);
  const udp = start + (f.udp - f.mac);
  const len = Math.min(size, f.payload - k * size);
  view.setUint16(udp + 4, 8 + len);
  if (f.family === 4) {
    const ihl = f.udp - f.ip;
    view.setUint16(ip + 2, ihl + 8 + len);
    if (k > 0) view.setUint16(ip + 4, (view.getUint16(ip + 4) + 1) & 0xffff);
    view.setUint16(ip + 10, 0);
    view.setUint16(ip + 10, ipv4HeaderChecksum(view, ip, ihl));
    // Pseudo header: source and destination (ip + 12, 8 bytes), protocol, UDP length.
    view.setUint16(udp + 6, fold16(sumWords(view, ip + 12, 8) + 17 + 8 + len));
  } else {
    view.setUint16(ip + 4, (f.udp - f.ip - 40) + 8 + len);
    // Pseudo header: source and destination (ip + 8, 32 bytes), UDP length, next header.
    view.setUint16(udp + 6, fold16(sumWords(view, ip + 8, 32) + 8 + len + 17));
  }
  return start;
}

/** The frame length of datagram k. */
export function segmentFrameLength(f: GsoFrame, size: number, k: number): number {
  return f.udp + 8 - f.mac + Math.min(size, f.payload - k * size);
}

/** How many datagrams the frame stands for. */
export function segmentCount(f: GsoFrame, size: number): number {
  return Math.max(1, Math.ceil(f.payload / size));
}
