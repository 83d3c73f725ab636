/*
 * Run several at once against one daemon: each sets its own context's
 * RLIMIT_MODE to its argument (0 or 1) and checks, many times over, that
 * it reads back its own value and never the other program's.
 */
#include "check.h"

int main(int argc, char **argv)
{
	uint64_t mine = argc > 1 ? (uint64_t)atoi(argv[1]) : 0;
	for (int i = 0; i < 200; i++) {
		int fd = open("/dev/iommu", O_RDWR);
		EXPECT_EQ(0, rlimit_mode(fd));
		EXPECT_EQ(0, set_rlimit_mode(fd, mine));
		EXPECT_EQ(mine, rlimit_mode(fd));
		EXPECT_EQ(0, close(fd));
		if (failures) break;
	}
	DONE();
}
