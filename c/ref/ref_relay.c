/*
 * ref_relay: a plain C reference relay, used only by the benchmarks as a
 * yardstick for what a plain C loop on the same AF_PACKET rings costs.
 *
 * One rule, IPv4/UDP only: frames to --group:--port arriving on --in are
 * rewritten to --out-group:--out-port (new MACs, TTL, checksums) straight into
 * a TPACKET_V2 TX ring on --out. RX is a TPACKET_V3 (default) or V2 ring.
 * --nap-us (V2 only) adds mcr's default wake-up policy: woken per packet while
 * packets are sparse, napping between batches while they are dense.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_SIZE 2048u
/* Where a V2 TX frame's packet starts when PACKET_TX_HAS_OFF is not set: the
 * kernel reads it at the aligned header's end, sockaddr_ll not included. */
#define TX_DATA_OFF (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))
#define MIN_LEN (14 + 20 + 8)

static struct {
	unsigned long long rx, matched, tx, tx_ring_full, tx_errors, ignored, kicks, wakeups, naps;
} st;
static union tpacket_stats_u kstats;	/* the kernel's counters, read once at exit */

/* Configuration (addresses and ports in network byte order). */
static struct in_addr group, out_group;
static uint16_t port, out_port;
static uint8_t ttl = 8, out_mac[6];
static unsigned copies = 1;	/* --copies: each packet written to this many groups */
static int v3 = 1;
static unsigned nap_us;	/* --nap-us: 0, woken per packet (V2) */
static unsigned nap_enter = 6, nap_stay = 4;	/* --nap-enter, --nap-stay: mcr's rules */

/* TX ring. */
static int txfd;
static uint8_t *tx_ring;
static unsigned tx_frames = 4096, tx_fpb, tx_block, tx_idx, tx_pending;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "ref_relay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void die_inval(const char *what)
{
	errno = EINVAL;
	die(what);
}

static unsigned long parse_num(const char *opt, const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v > max)
		die_inval(opt);
	return v;
}

static void parse_addr(const char *opt, const char *s, struct in_addr *a)
{
	if (inet_pton(AF_INET, s, a) != 1)
		die_inval(opt);
}

/*
 * One's-complement sum of len bytes loaded in host order. The folded result,
 * stored back in host order, is the network-order sum (RFC 1071: the sum does
 * not depend on byte order), so nothing below swaps bytes.
 */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint16_t w;

	for (; len > 1; p += 2, len -= 2) {
		memcpy(&w, p, 2);
		sum += w;
	}
	if (len) {	/* an odd last byte is padded with a zero byte */
		uint8_t last[2] = { p[0], 0 };

		memcpy(&w, last, 2);
		sum += w;
	}
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), over the n 16-bit words that changed. */
static uint16_t csum_update(uint16_t check, const uint16_t *old, const uint16_t *new, int n)
{
	uint32_t sum = (uint16_t)~check;

	for (int i = 0; i < n; i++)
		sum += (uint16_t)~old[i] + (uint32_t)new[i];
	return (uint16_t)~csum_fold(sum);
}

/* Hand every SEND_REQUEST frame to the kernel. With MSG_DONTWAIT, tpacket_snd
 * sends what is queued and returns without waiting for the frames to complete;
 * on EAGAIN/ENOBUFS the frames stay SEND_REQUEST and go with the next kick. */
static void kick(void)
{
	st.kicks++;
	tx_pending = 0;
	if (send(txfd, NULL, 0, MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != ENOBUFS)
		st.tx_errors++;
}

static int tx_free(struct tpacket2_hdr *h)
{
	uint32_t s = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

	if (s == TP_STATUS_WRONG_FORMAT) {	/* the kernel refused the frame: reuse it */
		st.tx_errors++;
		return 1;
	}
	return s == TP_STATUS_AVAILABLE;
}

/* Checks one received frame (pkt: its Ethernet header, snap bytes captured) and
 * writes a matching one, rewritten, into the next TX frame. */
static void relay(const uint8_t *pkt, uint32_t snap, uint32_t status)
{
	struct iphdr ip;
	struct udphdr uh;
	uint32_t ihl, tot, ulen;

	st.rx++;
	/* TP_STATUS_VLAN_VALID: a tag the NIC stripped into metadata; ignored like one in the frame. */
	if (snap < MIN_LEN || (status & TP_STATUS_VLAN_VALID))
		goto ignore;
	memcpy(&ip, pkt + 14, sizeof(ip));
	if (pkt[12] != 0x08 || pkt[13] != 0x00 || ip.version != 4 || ip.ihl < 5 ||
	    ip.protocol != IPPROTO_UDP || ip.daddr != group.s_addr)
		goto ignore;
	ihl = ip.ihl * 4u;
	tot = ntohs(ip.tot_len);
	if (tot < ihl + 8 || 14 + tot > snap || (ntohs(ip.frag_off) & (IP_MF | IP_OFFMASK)))
		goto ignore;
	memcpy(&uh, pkt + 14 + ihl, sizeof(uh));
	ulen = ntohs(uh.len);
	if (uh.dest != port || ulen < 8 || ulen > tot - ihl)
		goto ignore;
	if (14 + tot > FRAME_SIZE - TX_DATA_OFF)	/* would not fit a TX frame */
		goto ignore;
	st.matched++;

	/* The input's UDP checksum, finished if the sender left it to offload. */
	uint16_t in_check = uh.check;
	if (status & TP_STATUS_CSUMNOTREADY) {
		/* CHECKSUM_PARTIAL (e.g. sent through a veth with TX checksum offload):
		 * nothing computed the checksum yet; the field holds only the
		 * pseudo-header sum. The sum over the UDP header and payload as they
		 * are, complemented, finishes it for the original addresses. */
		in_check = (uint16_t)~csum_fold(csum_add(0, pkt + 14 + ihl, ulen));
		if (in_check == 0)
			in_check = 0xffff;
	}
	for (unsigned c = 0; c < copies; c++) {
		/* Copy c goes to out-group + c (the benchmark numbers its groups the same way). */
		struct in_addr dst = { .s_addr = htonl(ntohl(out_group.s_addr) + c) };
		const uint8_t *g = (const uint8_t *)&dst.s_addr;
		uint8_t *frame = tx_ring + (size_t)(tx_idx / tx_fpb) * tx_block +
				 (size_t)(tx_idx % tx_fpb) * FRAME_SIZE;
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)frame;
		if (!tx_free(h)) {
			kick();
			if (!tx_free(h)) {
				st.tx_ring_full++;
				continue;
			}
		}
		uint8_t *out = frame + TX_DATA_OFF;
		struct ethhdr *oe = (struct ethhdr *)out;
		/* The group's MAC: 01:00:5e and the low 23 bits of the group. */
		memcpy(oe->h_dest, (uint8_t[6]){ 0x01, 0x00, 0x5e, g[1] & 0x7f, g[2], g[3] }, 6);
		memcpy(oe->h_source, out_mac, 6);
		oe->h_proto = htons(ETH_P_IP);
		memcpy(out + 14, pkt + 14, tot);	/* IP header and options, UDP header, payload */

		struct iphdr *oip = (struct iphdr *)(out + 14);
		oip->daddr = dst.s_addr;
		oip->ttl = ttl;
		oip->check = 0;
		oip->check = (uint16_t)~csum_fold(csum_add(0, out + 14, ihl));

		struct udphdr *ou = (struct udphdr *)(out + 14 + ihl);
		uint16_t check = in_check, old[3], new[3];
		if (check != 0) {	/* 0: the sender sent no checksum, and none is sent on */
			memcpy(old, &ip.daddr, 4);
			old[2] = uh.dest;
			memcpy(new, &dst.s_addr, 4);
			new[2] = out_port;
			check = csum_update(check, old, new, 3);
			if (check == 0)
				check = 0xffff;
		}
		ou->dest = out_port;
		ou->check = check;

		h->tp_len = 14 + tot;
		/* Barrier: the packet and tp_len must be visible before SEND_REQUEST is,
		 * since the kernel may read the frame as soon as it sees that status. */
		__sync_synchronize();
		h->tp_status = TP_STATUS_SEND_REQUEST;
		st.tx++;
		tx_pending++;
		tx_idx = (tx_idx + 1) % tx_frames;
	}
	return;
ignore:
	st.ignored++;
}

/* V2 ring geometry: 2048-byte frames in blocks of up to 4 MiB (a page multiple);
 * the frame count is rounded up to whole blocks, as the kernel requires. V2 takes
 * the first four fields of struct tpacket_req3 (they are struct tpacket_req). */
static void v2_geometry(unsigned frames, struct tpacket_req3 *req)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t want = ((size_t)frames * FRAME_SIZE + page - 1) / page * page;
	unsigned block = want < (1u << 22) ? (unsigned)want : 1u << 22;
	unsigned fpb = block / FRAME_SIZE;

	req->tp_block_size = block;
	req->tp_frame_size = FRAME_SIZE;
	req->tp_block_nr = (frames + fpb - 1) / fpb;
	req->tp_frame_nr = fpb * req->tp_block_nr;
}

static void set_int(int fd, int level, int name, int value, const char *what)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		die(what);
}

static void write_stats(FILE *f)
{
	fprintf(f, "{\"mode\":\"%s\",\"rx\":%llu,\"matched\":%llu,\"tx\":%llu,\"tx_ring_full\":%llu,"
		"\"tx_errors\":%llu,\"ignored\":%llu,\"kicks\":%llu,\"wakeups\":%llu,\"naps\":%llu,"
		"\"tp_packets\":%u,\"tp_drops\":%u",
		v3 ? "v3" : "v2", st.rx, st.matched, st.tx, st.tx_ring_full, st.tx_errors,
		st.ignored, st.kicks, st.wakeups, st.naps, kstats.stats1.tp_packets,
		kstats.stats1.tp_drops);
	if (v3)
		fprintf(f, ",\"tp_freeze_q_cnt\":%u", kstats.stats3.tp_freeze_q_cnt);
	fprintf(f, "}\n");
}

int main(int argc, char **argv)
{
	const char *in = NULL, *outif = NULL, *stats = NULL;
	unsigned long block_kib = 128, block_count = 512, retire_ms = 1, frames = 32768;
	long cpu = -1;
	int have_group = 0, have_out_group = 0;

	for (int i = 1; i < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (!v)
			die_inval(o);
		if (!strcmp(o, "--in")) in = v;
		else if (!strcmp(o, "--out")) outif = v;
		else if (!strcmp(o, "--group")) parse_addr(o, v, &group), have_group = 1;
		else if (!strcmp(o, "--out-group")) parse_addr(o, v, &out_group), have_out_group = 1;
		else if (!strcmp(o, "--port")) port = htons((uint16_t)parse_num(o, v, 65535));
		else if (!strcmp(o, "--out-port")) out_port = htons((uint16_t)parse_num(o, v, 65535));
		else if (!strcmp(o, "--ttl")) ttl = (uint8_t)parse_num(o, v, 255);
		else if (!strcmp(o, "--copies")) copies = (unsigned)parse_num(o, v, 1024);
		else if (!strcmp(o, "--mode") && (!strcmp(v, "v3") || !strcmp(v, "v2"))) v3 = !strcmp(v, "v3");
		else if (!strcmp(o, "--block-kib")) block_kib = parse_num(o, v, 1u << 20);
		else if (!strcmp(o, "--block-count")) block_count = parse_num(o, v, 1u << 20);
		else if (!strcmp(o, "--retire-ms")) retire_ms = parse_num(o, v, 60000);
		else if (!strcmp(o, "--nap-us")) nap_us = (unsigned)parse_num(o, v, 1000000);
		else if (!strcmp(o, "--nap-enter")) nap_enter = (unsigned)parse_num(o, v, 256);
		else if (!strcmp(o, "--nap-stay")) nap_stay = (unsigned)parse_num(o, v, 256);
		else if (!strcmp(o, "--frames")) frames = parse_num(o, v, 1u << 22);
		else if (!strcmp(o, "--tx-frames")) tx_frames = (unsigned)parse_num(o, v, 1u << 22);
		else if (!strcmp(o, "--cpu")) cpu = (long)parse_num(o, v, CPU_SETSIZE - 1);
		else if (!strcmp(o, "--stats")) stats = v;
		else die_inval(o);
	}
	if (!in || !outif || !have_group || !have_out_group || !port || !out_port ||
	    !block_kib || !block_count || !frames || !tx_frames || !copies)
		die_inval("options (--in --group --port --out --out-group --out-port are required, sizes > 0)");
	if (nap_us && v3)
		die_inval("--nap-us (with --mode v2 only)");
	/* A nap's timer fires when asked, not up to 50 µs later (the default slack);
	 * mcr's naps are io_uring timeouts, which ignore the slack. */
	if (nap_us && prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) < 0)
		die("PR_SET_TIMERSLACK");

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			die("sched_setaffinity");
	}
	unsigned in_idx = if_nametoindex(in), out_idx = if_nametoindex(outif);
	if (!in_idx)
		die("if_nametoindex --in");
	if (!out_idx)
		die("if_nametoindex --out");

	/* Join the group on the input interface. The socket stays open for the
	 * process lifetime (closing it leaves the group); it also serves the ioctl. */
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	if (udp < 0)
		die("socket AF_INET");
	struct ip_mreqn mr = { .imr_multiaddr = group, .imr_ifindex = (int)in_idx };
	if (setsockopt(udp, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		die("IP_ADD_MEMBERSHIP");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", outif);
	if (ioctl(udp, SIOCGIFHWADDR, &ifr) < 0)
		die("SIOCGIFHWADDR");
	memcpy(out_mac, ifr.ifr_hwaddr.sa_data, 6);

	/* RX socket, created with protocol 0 so that nothing is queued to it before
	 * bind(): a frame queued before the ring exists would stay in the plain
	 * receive queue, and poll() on a ring socket reports that queue too. */
	int rxfd = socket(AF_PACKET, SOCK_RAW, 0);
	if (rxfd < 0)
		die("socket AF_PACKET rx");
	/* Classic BPF, offsets from the Ethernet header: IPv4, UDP, destination ==
	 * group, not a later fragment, UDP destination port == port (the UDP header
	 * found through the IHL: ldxb 4*([14]&0xf)). Loads are in host order. */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 10),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 9),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 8),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 14 + 16),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(group.s_addr), 0, 6),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 14 + 6),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, IP_OFFMASK, 4, 0),
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14 + 2),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohs(port), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),	/* accept, whole frame */
		BPF_STMT(BPF_RET | BPF_K, 0),		/* drop */
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	if (setsockopt(rxfd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		die("SO_ATTACH_FILTER");
	set_int(rxfd, SOL_PACKET, PACKET_VERSION, v3 ? TPACKET_V3 : TPACKET_V2, "PACKET_VERSION rx");
	struct tpacket_req3 r = { 0 };
	if (v3) {
		r.tp_block_size = (unsigned)(block_kib * 1024);
		r.tp_block_nr = (unsigned)block_count;
		r.tp_frame_size = FRAME_SIZE;
		r.tp_frame_nr = (unsigned)(block_kib * 1024 * block_count / FRAME_SIZE);
		r.tp_retire_blk_tov = (unsigned)retire_ms;
	} else {
		v2_geometry((unsigned)frames, &r);
		frames = r.tp_frame_nr;
	}
	if (setsockopt(rxfd, SOL_PACKET, PACKET_RX_RING, &r,
		       v3 ? sizeof(r) : sizeof(struct tpacket_req)) < 0)
		die("PACKET_RX_RING");
	size_t rx_block = r.tp_block_size, rx_blocks = r.tp_block_nr;
	uint8_t *rx_ring = mmap(NULL, rx_block * rx_blocks, PROT_READ | PROT_WRITE, MAP_SHARED, rxfd, 0);
	if (rx_ring == MAP_FAILED)
		die("mmap rx ring");
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				   .sll_ifindex = (int)in_idx };
	if (bind(rxfd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die("bind rx");

	/* TX socket: protocol 0 (it receives nothing), V2 TX ring, through the qdisc
	 * (PACKET_QDISC_BYPASS left at its default, off). */
	txfd = socket(AF_PACKET, SOCK_RAW, 0);
	if (txfd < 0)
		die("socket AF_PACKET tx");
	set_int(txfd, SOL_PACKET, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION tx");
	struct tpacket_req3 tr = { 0 };
	v2_geometry(tx_frames, &tr);
	/* As mcr's TX rings: a frame the kernel refuses (WRONG_FORMAT) does not stop
	 * the ring (PACKET_LOSS), and the send buffer covers every frame in flight. */
	set_int(txfd, SOL_PACKET, PACKET_LOSS, 1, "PACKET_LOSS");
	if (setsockopt(txfd, SOL_PACKET, PACKET_TX_RING, &tr, sizeof(struct tpacket_req)) < 0)
		die("PACKET_TX_RING");
	int sndbuf = (int)(tr.tp_block_size * tr.tp_block_nr);
	if (setsockopt(txfd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		setsockopt(txfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	tx_frames = tr.tp_frame_nr;
	tx_block = tr.tp_block_size;
	tx_fpb = tr.tp_block_size / FRAME_SIZE;
	tx_ring = mmap(NULL, (size_t)tr.tp_block_size * tr.tp_block_nr, PROT_READ | PROT_WRITE,
		       MAP_SHARED, txfd, 0);
	if (tx_ring == MAP_FAILED)
		die("mmap tx ring");
	struct sockaddr_ll tll = { .sll_family = AF_PACKET, .sll_ifindex = (int)out_idx };
	if (bind(txfd, (struct sockaddr *)&tll, sizeof(tll)) < 0)
		die("bind tx");

	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART: poll() ends */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fprintf(stderr, "ref_relay started\n");

	struct pollfd pfd = { .fd = rxfd, .events = POLLIN | POLLERR };
	unsigned rx_idx = 0;	/* next block (v3) or frame (v2) */
	unsigned fpb = (unsigned)(rx_block / FRAME_SIZE);
	/* --nap-us, as mcr's loop (src/dataplane/naps.ts): a turn of at least
	 * nap_enter frames starts naps, a nap bringing fewer than nap_stay ends them;
	 * while napping, each turn's kick is sent and the loop sleeps to the end of a
	 * nap_us period begun at its last wake-up, instead of waiting in poll(). */
	enum { MIN_NAP_US = 5 };
	int napping = 0;
	struct timespec period = { 0 }, now;
	while (!stop) {
		if (!napping) {
			poll(&pfd, 1, 100);
			st.wakeups++;
		}
		if (v3) {
			while (!stop) {	/* every ready block; a signal ends even a steady stream */
				struct tpacket_block_desc *bd = (void *)(rx_ring + rx_idx * rx_block);

				/* Acquire: the kernel fills the block, then sets TP_STATUS_USER;
				 * no read of the packets may be ordered before this one. */
				if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
				      TP_STATUS_USER))
					break;
				uint8_t *p = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
				for (uint32_t n = bd->hdr.bh1.num_pkts; n > 0; n--) {
					struct tpacket3_hdr *ph = (struct tpacket3_hdr *)p;

					relay(p + ph->tp_mac, ph->tp_snaplen, ph->tp_status);
					p += ph->tp_next_offset;
				}
				/* Barrier: every read of the block must be done before the
				 * kernel sees TP_STATUS_KERNEL, after which it may refill it. */
				__sync_synchronize();
				bd->hdr.bh1.block_status = TP_STATUS_KERNEL;
				rx_idx = (rx_idx + 1) % (unsigned)rx_blocks;
				/* One kick per block: one send() hands the kernel every queued
				 * TX frame, so a block's packets cost one system call; kicking
				 * only once per poll turn would hold frames back while a long
				 * run of ready blocks is walked. */
				if (tx_pending)
					kick();
			}
		} else {
			int n = 0;

			for (; n < 256; n++) {
				uint8_t *f = rx_ring + (size_t)(rx_idx / fpb) * rx_block +
					     (size_t)(rx_idx % fpb) * FRAME_SIZE;
				struct tpacket2_hdr *h = (struct tpacket2_hdr *)f;

				/* Acquire and barrier as for the V3 blocks above. */
				if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
					break;
				relay(f + h->tp_mac, h->tp_snaplen, h->tp_status);
				__sync_synchronize();
				h->tp_status = TP_STATUS_KERNEL;
				rx_idx = (rx_idx + 1) % (unsigned)frames;
			}
			if (tx_pending)
				kick();
			if (!nap_us)
				continue;
			if (!napping && n > 0 && (unsigned)n >= nap_enter) {
				napping = 1;
				clock_gettime(CLOCK_MONOTONIC, &period);
			} else if (napping && (unsigned)n < nap_stay) {
				napping = 0;
			}
			if (!napping)
				continue;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long left_ns = (long)nap_us * 1000 - ((now.tv_sec - period.tv_sec) * 1000000000L +
							      (now.tv_nsec - period.tv_nsec));
			if (left_ns >= MIN_NAP_US * 1000L) {
				struct timespec d = { .tv_sec = left_ns / 1000000000L,
						      .tv_nsec = left_ns % 1000000000L };
				nanosleep(&d, NULL);
				st.naps++;
			}
			clock_gettime(CLOCK_MONOTONIC, &period);	/* the next period starts at this wake-up */
		}
	}

	/* Reading PACKET_STATISTICS resets the kernel's counters: read once. */
	socklen_t len = v3 ? sizeof(kstats.stats3) : sizeof(kstats.stats1);
	getsockopt(rxfd, SOL_PACKET, PACKET_STATISTICS, &kstats, &len);
	write_stats(stdout);
	fflush(stdout);
	if (stats) {
		FILE *f = fopen(stats, "w");

		if (f) {
			write_stats(f);
			fclose(f);
		}
	}
	close(udp);
	return 0;
}
