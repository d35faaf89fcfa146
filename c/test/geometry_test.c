/* Ring geometry the kernel would refuse is -EINVAL before anything is created. */
#include <errno.h>
#include <stdio.h>
#include "../mcr.h"

static int failures;
#define EXPECT(cond, what) do { if (!(cond)) { fprintf(stderr, "FAIL: %s\n", what); failures++; } } while (0)

int main(void)
{
	int arena = mcr_arena_open(1 << 24);

	EXPECT(arena >= 0, "arena opened");
	EXPECT(mcr_rx_open(arena, 0, 1, 65536 + 4096, 4, 2048, 1, 0, 0) == -EINVAL, "block size not a power of two");
	EXPECT(mcr_rx_open(arena, 0, 1, 2048, 4, 2048, 1, 0, 0) == -EINVAL, "block smaller than a page");
	EXPECT(mcr_rx_open(arena, 0, 1, 65536, 0, 2048, 1, 0, 0) == -EINVAL, "zero blocks");
	EXPECT(mcr_rx_open(arena, 0, 1, 65536, 4, 131072, 1, 0, 0) == -EINVAL, "frame larger than a block");
	EXPECT(mcr_rx_open(arena, 0, 1, 65536, 4, 2050, 1, 0, 0) == -EINVAL, "frame size not aligned");
	EXPECT(mcr_rx_open(arena, (1 << 24) - 65536, 1, 65536, 4, 2048, 1, 0, 0) == -EINVAL, "ring past the arena's end");
	EXPECT(mcr_rx_open(9999, 0, 1, 65536, 4, 2048, 1, 0, 0) == -EBADF, "unknown arena");
	EXPECT(mcr_tx_open(arena, 0, 1, 3000, 64, 0) == -EINVAL, "TX frame size not a power of two");
	EXPECT(mcr_tx_open(arena, 0, 1, 2048, 0, 0) == -EINVAL, "zero TX frames");
	EXPECT(mcr_tx_open(arena, 0, 1, 2048, 33, 0) == -EINVAL, "TX frames not filling whole blocks");
	EXPECT(mcr_arena_items(arena) == 0, "nothing registered after refused opens");
	return failures ? 1 : 0;
}
