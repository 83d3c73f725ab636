/*
 * COUNT back-to-back IOMMU_OPTION GETs of RLIMIT_MODE on /dev/iommu (each
 * must answer 0 with value 0), for the poller tests of test/shm.test.ts;
 * prints PASSED. Usage: option_loop COUNT.
 */
#include "check.h"

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 1000;
	int fd = open("/dev/iommu", O_RDWR);
	EXPECT_EQ(1, fd >= 0);
	struct iommu_option cmd = {
		.size = sizeof(cmd), .option_id = IOMMU_OPTION_RLIMIT_MODE, .op = IOMMU_OPTION_OP_GET,
	};
	for (long i = 0; i < count && !failures; i++) {
		EXPECT_EQ(0, ioctl(fd, IOMMU_OPTION, &cmd));
		EXPECT_EQ(0, cmd.val64);
	}
	DONE();
}
