/*
 * Classic BPF program that lets only the relay's streams into an RX ring:
 * IPv4/UDP frames (untagged, or with one 802.1Q tag) whose destination
 * (address, port) is one of the configured pairs. Later fragments carry no
 * UDP header; they pass on their group alone when fragments are allowed.
 *
 * Shape of the program (labels resolved by a small fix-up pass):
 *
 *       ldh [12]; if 0x8100 goto VLAN; if != 0x0800 goto DROP
 *       <path for IP at 14>                      -> PAIRS / GROUPS / DROP
 *   VLAN: ldh [16]; if != 0x0800 goto DROP
 *       <path for IP at 18>
 *   PAIRS:  per pair: ld M[1]; jeq g ? : skip; ld M[0]; jeq p ? : skip; ret ACCEPT
 *           ret 0
 *   GROUPS: per group: ld M[1]; jeq g ? : skip; ret ACCEPT      (fragments)
 *           ret 0
 *   DROP:   ret 0
 *
 * M[0] holds the UDP destination port, M[1] the IPv4 destination address.
 */
#include <linux/filter.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "mcr.h"

enum { L_VLAN, L_PAIRS, L_GROUPS, L_DROP, L_FRAG14, L_FRAG18, L_COUNT };

#define ACCEPT 0xffffffffu
#define MAX_PROG BPF_MAXINSNS

struct prog {
	struct sock_filter insn[MAX_PROG];
	int len;
	int overflow;
	int label_pc[L_COUNT];
	/* ja instructions waiting for a label: (pc, label) */
	int fix_pc[64];
	int fix_label[64];
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
	if (p->nfix < 64) {
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

/* IPv4 header at offset b: checks UDP, splits fragments, stores port and address. */
static void ip_path(struct prog *p, uint32_t b, int frag_label)
{
	emit(p, BPF_LD | BPF_B | BPF_ABS, 0, 0, b + 9); /* protocol */
	jump_unless_eq(p, 17, L_DROP);
	emit(p, BPF_LD | BPF_H | BPF_ABS, 0, 0, b + 6); /* flags + fragment offset */
	emit(p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, 0x1fff);
	jump_to(p, frag_label);
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

static int build(struct prog *p, const uint32_t *pairs, int n, int pass_fragments, int match_all)
{
	int i, j;

	memset(p, 0, sizeof(*p));
	emit(p, BPF_LD | BPF_H | BPF_ABS, 0, 0, 12);
	jump_if_eq(p, 0x8100, L_VLAN);
	jump_unless_eq(p, 0x0800, L_DROP);
	ip_path(p, 14, L_FRAG14);
	place(p, L_VLAN);
	emit(p, BPF_LD | BPF_H | BPF_ABS, 0, 0, 16);
	jump_unless_eq(p, 0x0800, L_DROP);
	ip_path(p, 18, L_FRAG18);
	place(p, L_FRAG14);
	frag_path(p, 14, pass_fragments);
	place(p, L_FRAG18);
	frag_path(p, 18, pass_fragments);

	place(p, L_PAIRS);
	if (match_all) {
		emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
	} else {
		for (i = 0; i < n; i++) {
			emit(p, BPF_LD | BPF_MEM, 0, 0, 1);
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, pairs[2 * i]);
			emit(p, BPF_LD | BPF_MEM, 0, 0, 0);
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, pairs[2 * i + 1]);
			emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
		}
		emit(p, BPF_RET | BPF_K, 0, 0, 0);
	}

	place(p, L_GROUPS);
	if (match_all) {
		emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
	} else {
		for (i = 0; i < n; i++) {
			for (j = 0; j < i; j++) /* each group once */
				if (pairs[2 * j] == pairs[2 * i])
					break;
			if (j < i)
				continue;
			emit(p, BPF_LD | BPF_MEM, 0, 0, 1);
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, pairs[2 * i]);
			emit(p, BPF_RET | BPF_K, 0, 0, ACCEPT);
		}
		emit(p, BPF_RET | BPF_K, 0, 0, 0);
	}
	place(p, L_DROP);
	emit(p, BPF_RET | BPF_K, 0, 0, 0);

	for (i = 0; i < p->nfix; i++)
		p->insn[p->fix_pc[i]].k = (uint32_t)(p->label_pc[p->fix_label[i]] - p->fix_pc[i] - 1);
	return p->overflow ? -E2BIG : 0;
}

MCR_EXPORT MCR_COLD int mcr_rx_set_filter(int fd, const uint32_t *pairs, int n, int pass_fragments)
{
	static const struct sock_filter drop_all[] = { { BPF_RET | BPF_K, 0, 0, 0 } };
	struct sock_fprog fprog;
	struct prog *p = NULL;
	int err;

	if (n < 0 || (n > 0 && pairs == NULL))
		return -EINVAL;
	if (n == 0) {
		fprog.len = 1;
		fprog.filter = (struct sock_filter *)drop_all;
	} else {
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		/* Too many pairs for one program: let all IPv4/UDP through; user space matches. */
		if (build(p, pairs, n, pass_fragments, 0) < 0 && build(p, pairs, n, pass_fragments, 1) < 0) {
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
