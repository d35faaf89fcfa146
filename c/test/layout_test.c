/* mcr_layout() reports every slot, with the kernel's status values. */
#include <stdio.h>
#include "../mcr.h"

int main(void)
{
	int32_t out[MCR_L_COUNT + 4];
	int n = mcr_layout(out, MCR_L_COUNT + 4);

	if (n != MCR_L_COUNT) { fprintf(stderr, "FAIL: %d slots, expected %d\n", n, MCR_L_COUNT); return 1; }
	if (out[MCR_L_STATUS_USER] != 1 || out[MCR_L_STATUS_SEND_REQUEST] != 1 || out[MCR_L_STATUS_WRONG_FORMAT] != 4) {
		fprintf(stderr, "FAIL: status values\n");
		return 1;
	}
	if (out[MCR_L_TP2_DATA] != 32 || out[MCR_L_BLK_STATUS] != 8) { fprintf(stderr, "FAIL: offsets\n"); return 1; }
	if (mcr_abi_version() != MCR_ABI_VERSION) { fprintf(stderr, "FAIL: ABI version\n"); return 1; }
	return 0;
}
