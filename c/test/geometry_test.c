/* Ring geometry the kernel would refuse is -EINVAL before anything is created. */
#include <errno.h>
#include <stdio.h>
#include "../mcr.h"

static int failures;
#define EXPECT(cond, what) do { if (!(cond)) { fprintf(stderr, "FAIL: %s\n", what); failures++; } } while (0)

int main(void)
{
	uint64_t arena = 0;

	EXPECT(mcr_arena_reserve(1 << 24, &arena) == 0 && arena != 0, "arena reserved");
	EXPECT(mcr_rx_open(1, 65536 + 4096, 4, 2048, 1, 0, 0, arena) == -EINVAL, "block size not a power of two");
	EXPECT(mcr_rx_open(1, 2048, 4, 2048, 1, 0, 0, arena) == -EINVAL, "block smaller than a page");
	EXPECT(mcr_rx_open(1, 65536, 0, 2048, 1, 0, 0, arena) == -EINVAL, "zero blocks");
	EXPECT(mcr_rx_open(1, 65536, 4, 131072, 1, 0, 0, arena) == -EINVAL, "frame larger than a block");
	EXPECT(mcr_rx_open(1, 65536, 4, 2050, 1, 0, 0, arena) == -EINVAL, "frame size not aligned");
	EXPECT(mcr_tx_open(1, 3000, 64, 0, arena) == -EINVAL, "TX frame size not a power of two");
	EXPECT(mcr_tx_open(1, 2048, 0, 0, arena) == -EINVAL, "zero TX frames");
	EXPECT(mcr_tx_open(1, 2048, 33, 0, arena) == -EINVAL, "TX frames not filling whole blocks");
	EXPECT(mcr_rx_open(1, 65536, 4, 2048, 1, 0, 0, 0) == -EINVAL, "no mapping address");
	return failures ? 1 : 0;
}
