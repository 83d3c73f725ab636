/*
 * The ioctl round trip under iommu-sim: COUNT × IOMMU_OPTION GET of
 * RLIMIT_MODE on /dev/iommu (a full copy in / decide / copy out per call),
 * or on PATH when given (any served node answering 0), after a warm-up;
 * prints round trips per second.
 * Usage: ioctl_loop COUNT [PATH].
 */
#include <time.h>
#include "../test/c/check.h"

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 20000;
	const char *path = argc > 2 ? argv[2] : "/dev/iommu";
	int fd = open(path, O_RDWR);
	if (fd < 0) return 1;
	struct iommu_option cmd = {
		.size = sizeof(cmd), .option_id = IOMMU_OPTION_RLIMIT_MODE, .op = IOMMU_OPTION_OP_GET,
	};
	for (int i = 0; i < 1000; i++) ioctl(fd, IOMMU_OPTION, &cmd);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < count; i++)
		if (ioctl(fd, IOMMU_OPTION, &cmd) != 0 || cmd.val64 != 0) return 2;
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%.0f\n", count / s);
	return 0;
}
