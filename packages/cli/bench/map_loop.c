/*
 * The figure for `iommu-sim exec`: COUNT × (IOMMU_IOAS_MAP of 4 KiB
 * of this program's memory at a fixed IOVA + IOMMU_IOAS_UNMAP) on an IOAS
 * with a selftest mock domain attached, so every map pins the page and
 * fills the domain's IO page table, after a warm-up; prints pairs/s.
 * Usage: map_loop COUNT.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include "../../../examples/iommu-uapi.h"
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 20000;
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) return 1;
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	if (ioctl(fd, IOMMU_IOAS_ALLOC, &alloc)) return 2;
	struct iommu_test_cmd mock = { .size = sizeof(mock), .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = alloc.out_ioas_id };
	if (ioctl(fd, IOMMU_TEST_CMD, &mock)) return 3;
	void *buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) return 4;
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = alloc.out_ioas_id,
		.user_va = (uintptr_t)buf,
		.length = 4096,
		.iova = 1 << 24, /* MOCK_APERTURE_START */
	};
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap), .ioas_id = alloc.out_ioas_id, .iova = 1 << 24, .length = 4096 };
	for (int i = 0; i < 1000; i++) {
		if (ioctl(fd, IOMMU_IOAS_MAP, &map) || ioctl(fd, IOMMU_IOAS_UNMAP, &unmap)) return 5;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < count; i++) {
		if (ioctl(fd, IOMMU_IOAS_MAP, &map) || ioctl(fd, IOMMU_IOAS_UNMAP, &unmap)) return 6;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%.0f\n", count / s);
	return 0;
}
