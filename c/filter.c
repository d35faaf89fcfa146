/*
 * Classic BPF program that lets only the relay's streams into an RX ring:
 * IPv4/UDP and IPv6/UDP frames (untagged, or with one 802.1Q tag) whose
 * destination (address, port) is one of the configured entries. IPv4 later
 * fragments carry no UDP header; they pass on their group alone when
 * fragments are allowed. IPv6 packets with extension headers (hop-by-hop,
 * routing, fragment, destination options) pass on their destination address
 * alone: user space walks the chain, and counts what it drops.
 *
 * Shape of the program (labels resolved by a small fix-up pass):
 *
 *       ldh [12]; if 0x8100 goto VLAN; if 0x86dd goto V6_14; if != 0x0800 goto DROP
 *       <IPv4 path at 14>                      -> PAIRS / GROUPS / DROP
 *   VLAN: ldh [16]; if 0x86dd goto V6_18; if != 0x0800 goto DROP
 *       <IPv4 path at 18>
 *   V6_14 / V6_18: <IPv6 path>                 -> PAIRS6 / GROUPS6 / DROP
 *   PAIRS:   per IPv4 entry: ld M[1]; jeq g; ld M[0]; jeq p; ret ACCEPT
 *   GROUPS:  per IPv4 group: ld M[1]; jeq g; ret ACCEPT            (fragments)
 *   PAIRS6:  per IPv6 entry: ld M[1..4]; jeq words; ld M[0]; jeq p; ret ACCEPT
 *   GROUPS6: per IPv6 group: ld M[1..4]; jeq words; ret ACCEPT     (ext. headers)
 *   DROP:    ret 0
 *
 * M[0] holds the UDP destination port, M[1] the IPv4 destination address or
 * M[1..4] the IPv6 destination address as four 32-bit words.
 */
#include <linux/filter.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "mcr.h"

enum { L_VLAN, L_PAIRS, L_GROUPS, L_PAIRS6, L_GROUPS6, L_DROP, L_FRAG14, L_FRAG18, L_V6_14, L_V6_18, L_COUNT };

/* One filter entry: family (4|6), address words (host order; IPv4 uses w[0]), port. */
#define ENTRY_WORDS 6
#define MAX_FIX 128

#define ACCEPT 0xffffffffu
#define MAX_PROG BPF_MAXINSNS

struct prog {
	struct sock_filter insn[MAX_PROG];
	int len;
	int overflow;
	int label_pc[L_COUNT];
	/* ja instructions waiting for a label: (pc, label) */
	int fix_pc[MAX_FIX];
	int fix_label[MAX_FIX];
	int nfix;
};

static void emit(struct prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	if (p->len >= MAX_PROG) {
		p->overflow = 1;
		return;
	}
	p->insn[p->len++] = (struct sock_filter){ code, jt, jf, k };
}

static void jump_to(struct prog *p, int label)
{
	if (p->nfix < MAX_FIX) {
		p->fix_pc[p->nfix] = p->len;
		p->fix_label[p->nfix++] = label;
	} else {
		p->overflow = 1;
	}
	emit(p, BPF_JMP | BPF_JA, 0, 0, 0);
}

/* if (A == k) goto label */
static void jump_if_eq(struct prog *p, uint32_t k, int label)
{
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, k);
	jump_to(p, label);
}

/* if (A != k) goto label */
static void jump_unless_eq(struct prog *p, uint32_t k, int label)
{
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, k);
	jump_to(p, label);
}

static void place(struct prog *p, int label)
{
	p->label_pc[label] = p->len;
}

/*
 * IPv4 header at offset b: splits fragments, stores the port word and the
 * address. The port word is the UDP destination port, or 0x10000 | protocol
 * for any other protocol (entries for such streams carry the same word).
 */
static void ip_path(struct prog *p, uint32_t b, int frag_label)
{
	emit(p, BPF_LD | BPF_H | BPF_ABS, 0, 0, b + 6); /* flags + fragment offset */
	emit(p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, 0x1fff);
	jump_to(p, frag_label);
	emit(p, BPF_LD | BPF_B | BPF_ABS, 0, 0, b + 9); /* protocol */
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 3, 0, 17);
	emit(p, BPF_ALU | BPF_OR | BPF_K, 0, 0, 0x10000); /* not UDP: 0x10000 | protocol */
	emit(p, BPF_ST, 0, 0, 0);
	emit(p, BPF_JMP | BPF_JA, 0, 0, 3);
	emit(p, BPF_LDX | BPF_B | BPF_MSH, 0, 0, b); /* X = IHL * 4 */
	emit(p, BPF_LD | BPF_H | BPF_IND, 0, 0, b + 2); /* UDP destination port */
	emit(p, BPF_ST, 0, 0, 0);
	emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, b + 16); /* destination address */
	emit(p, BPF_ST, 0, 0, 1);
	jump_to(p, L_PAIRS);
}

static void frag_path(struct prog *p, uint32_t b, int pass_fragments)
{
	emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, b + 16);
	emit(p, BPF_ST, 0, 0, 1);
	jump_to(p, pass_fragments ? L_GROUPS : L_DROP);
}

/* IPv6 header at offset b: stores the destination words, then UDP port or extension-header path. */
static void ip6_path(struct prog *p, uint32_t b)
{
	int k;

	for (k = 0; k < 4; k++) {
		emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, b + 24 + 4 * (uint32_t)k);
		emit(p, BPF_ST, 0, 0, (uint32_t)(1 + k));
	}
	emit(p, BPF_LD | BPF_B | BPF_ABS, 0, 0, b + 6); /* next header */
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 17);
	emit(p, BPF_LD | BPF_H | BPF_ABS, 0, 0, b + 40 + 2); /* UDP destination port */
	emit(p, BPF_ST, 0, 0, 0);
	jump_to(p, L_PAIRS6);
	jump_if_eq(p, 0, L_GROUPS6);  /* hop-by-hop options */
	jump_if_eq(p, 43, L_GROUPS6); /* routing */
	jump_if_eq(p, 44, L_GROUPS6); /* fragment */
	jump_if_eq(p, 60, L_GROUPS6); /* destination options */
	emit(p, BPF_ALU | BPF_OR | BPF_K, 0, 0, 0x10000); /* another protocol: 0x10000 | next header */
	emit(p, BPF_ST, 0, 0, 0);
	jump_to(p, L_PAIRS6);
}

static int same_address(const uint32_t *a, const uint32_t *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4];
}

/* Accepts when the stored address (and port, if with_port) equals one family-6 entry's. */
static void v6_table(struct prog *p, const uint32_t *e, int n, int with_port)
{
	int i, j, k;
	int block = with_port ? 11 : 9; /* instructions per entry */

	for (i = 0; i < n && !p->overflow; i++) {
		const uint32_t *x = e + ENTRY_WORDS * i;
		if (x[0] != 6)
			continue;
		if (!with_port) {
			for (j = 0; j < i; j++)
				if (same_address(e + ENTRY_WORDS * j, x))
					break;
			if (j < i)
				continue;
		}
		for (k = 0; k < 4; k++) {
			emit(p, BPF_LD | BPF_MEM, 0, 0, (uint32_t)(1 + k));
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)(block - 2 * k - 2), x[1 + k]);
		}
		if (with_port) {
			emit(p, BPF_LD | BPF_MEM, 0, 0, 0);
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, x[5]);
		}
		emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
	}
	emit(p, BPF_RET | BPF_K, 0, 0, 0);
}

static int build(struct prog *p, const uint32_t *e, int n, int pass_fragments, int match_all)
{
	int i, j;

	memset(p, 0, sizeof(*p));
	/*
	 * Zero the scratch cells first. The kernel's checker tracks which cells
	 * are written in one linear pass in which a "ret" does not end a path, so
	 * a section placed after another one's "ret" inherits its (smaller) set;
	 * initialised cells keep every load valid on every path.
	 */
	emit(p, BPF_LD | BPF_IMM, 0, 0, 0);
	for (i = 0; i < 5; i++)
		emit(p, BPF_ST, 0, 0, (uint32_t)i);
	emit(p, BPF_LD | BPF_H | BPF_ABS, 0, 0, 12);
	jump_if_eq(p, 0x8100, L_VLAN);
	jump_if_eq(p, 0x86dd, L_V6_14);
	jump_unless_eq(p, 0x0800, L_DROP);
	ip_path(p, 14, L_FRAG14);
	place(p, L_VLAN);
	emit(p, BPF_LD | BPF_H | BPF_ABS, 0, 0, 16);
	jump_if_eq(p, 0x86dd, L_V6_18);
	jump_unless_eq(p, 0x0800, L_DROP);
	ip_path(p, 18, L_FRAG18);
	place(p, L_FRAG14);
	frag_path(p, 14, pass_fragments);
	place(p, L_FRAG18);
	frag_path(p, 18, pass_fragments);
	place(p, L_V6_14);
	ip6_path(p, 14);
	place(p, L_V6_18);
	ip6_path(p, 18);

	place(p, L_PAIRS);
	if (match_all) {
		emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
	} else {
		/* An overflowing program is thrown away: stop at once (the group pass below is quadratic). */
		for (i = 0; i < n && !p->overflow; i++) {
			const uint32_t *x = e + ENTRY_WORDS * i;
			if (x[0] != 4)
				continue;
			emit(p, BPF_LD | BPF_MEM, 0, 0, 1);
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, x[1]);
			emit(p, BPF_LD | BPF_MEM, 0, 0, 0);
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, x[5]);
			emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
		}
		emit(p, BPF_RET | BPF_K, 0, 0, 0);
	}

	place(p, L_GROUPS);
	if (match_all) {
		emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
	} else {
		for (i = 0; i < n && !p->overflow; i++) {
			const uint32_t *x = e + ENTRY_WORDS * i;
			if (x[0] != 4)
				continue;
			for (j = 0; j < i; j++) /* each group once */
				if (e[ENTRY_WORDS * j] == 4 && e[ENTRY_WORDS * j + 1] == x[1])
					break;
			if (j < i)
				continue;
			emit(p, BPF_LD | BPF_MEM, 0, 0, 1);
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, x[1]);
			emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
		}
		emit(p, BPF_RET | BPF_K, 0, 0, 0);
	}

	place(p, L_PAIRS6);
	if (match_all)
		emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
	else
		v6_table(p, e, n, 1);
	place(p, L_GROUPS6);
	if (match_all)
		emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
	else
		v6_table(p, e, n, 0);

	place(p, L_DROP);
	emit(p, BPF_RET | BPF_K, 0, 0, 0);

	for (i = 0; i < p->nfix; i++)
		p->insn[p->fix_pc[i]].k = (uint32_t)(p->label_pc[p->fix_label[i]] - p->fix_pc[i] - 1);
	return p->overflow ? -E2BIG : 0;
}

MCR_EXPORT MCR_COLD int mcr_rx_set_filter(int fd, const uint32_t *entries, int n, int pass_fragments)
{
	static const struct sock_filter drop_all[] = { { BPF_RET | BPF_K, 0, 0, 0 } };
	struct sock_fprog fprog;
	struct prog *p = NULL;
	int err;

	if (n < 0 || (n > 0 && entries == NULL))
		return -EINVAL;
	if (n == 0) {
		fprog.len = 1;
		fprog.filter = (struct sock_filter *)drop_all;
	} else {
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		/* Too many entries for one program: let all IP/UDP through; user space matches. */
		if (build(p, entries, n, pass_fragments, 0) < 0 && build(p, entries, n, pass_fragments, 1) < 0) {
			free(p);
			return -E2BIG;
		}
		fprog.len = (unsigned short)p->len;
		fprog.filter = p->insn;
	}
	err = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0 ? __mcr_neg_errno() : 0;
	free(p);
	return err;
}
