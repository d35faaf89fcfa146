/* Offsets and constants TypeScript relies on, from the kernel headers (checked at load). */
#include <linux/if_packet.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "internal.h"
#include "mcr.h"

MCR_EXPORT int mcr_abi_version(void)
{
	return MCR_ABI_VERSION;
}

MCR_EXPORT int mcr_layout(int32_t *out, int n)
{
	const int32_t v[MCR_L_COUNT] = {
		[MCR_L_BLK_STATUS] = offsetof(struct tpacket_block_desc, hdr.bh1.block_status),
		[MCR_L_BLK_NUM_PKTS] = offsetof(struct tpacket_block_desc, hdr.bh1.num_pkts),
		[MCR_L_BLK_FIRST_PKT] = offsetof(struct tpacket_block_desc, hdr.bh1.offset_to_first_pkt),
		[MCR_L_TP3_NEXT_OFFSET] = offsetof(struct tpacket3_hdr, tp_next_offset),
		[MCR_L_TP3_SNAPLEN] = offsetof(struct tpacket3_hdr, tp_snaplen),
		[MCR_L_TP3_LEN] = offsetof(struct tpacket3_hdr, tp_len),
		[MCR_L_TP3_STATUS] = offsetof(struct tpacket3_hdr, tp_status),
		[MCR_L_TP3_MAC] = offsetof(struct tpacket3_hdr, tp_mac),
		[MCR_L_TP3_VLAN_TCI] = offsetof(struct tpacket3_hdr, hv1.tp_vlan_tci),
		[MCR_L_TP2_STATUS] = offsetof(struct tpacket2_hdr, tp_status),
		[MCR_L_TP2_LEN] = offsetof(struct tpacket2_hdr, tp_len),
		[MCR_L_TP2_DATA] = TPACKET2_HDRLEN - sizeof(struct sockaddr_ll),
		[MCR_L_STATUS_USER] = TP_STATUS_USER,
		[MCR_L_STATUS_CSUMNOTREADY] = TP_STATUS_CSUMNOTREADY,
		[MCR_L_STATUS_VLAN_VALID] = TP_STATUS_VLAN_VALID,
		[MCR_L_STATUS_SEND_REQUEST] = TP_STATUS_SEND_REQUEST,
		[MCR_L_STATUS_SENDING] = TP_STATUS_SENDING,
		[MCR_L_STATUS_WRONG_FORMAT] = TP_STATUS_WRONG_FORMAT,
		[MCR_L_TP2_SNAPLEN] = offsetof(struct tpacket2_hdr, tp_snaplen),
		[MCR_L_TP2_MAC] = offsetof(struct tpacket2_hdr, tp_mac),
		[MCR_L_TP2_SEC] = offsetof(struct tpacket2_hdr, tp_sec),
		[MCR_L_TP2_NSEC] = offsetof(struct tpacket2_hdr, tp_nsec),
		[MCR_L_TP3_SEC] = offsetof(struct tpacket3_hdr, tp_sec),
		[MCR_L_TP3_NSEC] = offsetof(struct tpacket3_hdr, tp_nsec),
		[MCR_L_TP2_VLAN_TCI] = offsetof(struct tpacket2_hdr, tp_vlan_tci),
		[MCR_L_TP3_HDR_SIZE] = sizeof(struct tpacket3_hdr),
	};
	int i;

	for (i = 0; i < n && i < MCR_L_COUNT; i++)
		out[i] = v[i];
	return i;
}
