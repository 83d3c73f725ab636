/*
 * ioas-map: an IO address space over a mock device, the way a VMM sets one
 * up with iommufd (Linux Documentation/userspace-api/iommufd.rst).
 *
 *   iommu-sim exec -- ./ioas-map
 *
 * 1. open /dev/iommu and allocate an IOAS;
 * 2. attach a selftest mock device to it (IOMMU_TEST_OP_MOCK_DOMAIN: the
 *    model's stand-in for a real device, with its own IO page table);
 * 3. map 64 KiB of this program's own memory, letting the kernel choose
 *    the IOVA, and check that the device's page table points at exactly the
 *    pages behind the buffer (MD_CHECK_MAP) and that each is pinned once
 *    (MD_CHECK_REFS);
 * 4. copy the mapping into a second IOAS at the same IOVA
 *    (IOMMU_IOAS_COPY shares the pinned pages: still one pin each);
 * 5. unmap both, and see the pins go.
 *
 * Prints one line per step; exits 0 when everything held.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iommu-uapi.h"

#define BUFFER_SIZE (64 * 1024)

/* Fail loudly: the ioctl that went wrong and the errno Linux would set. */
#define CHECK(call)                                                            \
	do {                                                                   \
		if ((call) != 0) {                                             \
			fprintf(stderr, "ioas-map: %s: %s\n", #call,           \
				strerror(errno));                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

static uint32_t ioas_alloc(int fd)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	CHECK(ioctl(fd, IOMMU_IOAS_ALLOC, &cmd));
	return cmd.out_ioas_id;
}

/* Pins the pages behind [uptr, uptr + length): each must have `refs` pins. */
static int check_refs(int fd, void *uptr, size_t length, uint32_t refs)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_REFS,
		.check_refs = { .length = length, .uptr = (uintptr_t)uptr, .refs = refs },
	};
	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

int main(void)
{
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) {
		perror("open /dev/iommu");
		return 1;
	}
	uint32_t ioas = ioas_alloc(fd);
	printf("ioas %u allocated\n", ioas);

	/* A mock device attached to the IOAS: its domain follows every map. */
	struct iommu_test_cmd mock = { .size = sizeof(mock), .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = ioas };
	CHECK(ioctl(fd, IOMMU_TEST_CMD, &mock));
	uint32_t hwpt = mock.mock_domain.out_hwpt_id;
	printf("mock device attached: hwpt %u\n", hwpt);

	/* The buffer a device will DMA to: plain anonymous memory of this process. */
	void *buf = mmap(NULL, BUFFER_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) return 1;
	memset(buf, 0xa5, BUFFER_SIZE);

	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (uintptr_t)buf,
		.length = BUFFER_SIZE,
	};
	CHECK(ioctl(fd, IOMMU_IOAS_MAP, &map));
	printf("mapped 64 KiB at iova 0x%llx\n", (unsigned long long)map.iova);

	/* The device's IO page table maps the very pages of `buf`. */
	struct iommu_test_cmd check = {
		.size = sizeof(check),
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.id = hwpt,
		.check_map = { .iova = map.iova, .length = BUFFER_SIZE, .uptr = (uintptr_t)buf },
	};
	CHECK(ioctl(fd, IOMMU_TEST_CMD, &check));
	CHECK(check_refs(fd, buf, BUFFER_SIZE, 1));
	printf("device maps the buffer's pages, each pinned once\n");

	/* A second IOAS sharing the same pages, at the same IOVA (FIXED_IOVA). */
	uint32_t ioas2 = ioas_alloc(fd);
	struct iommu_ioas_copy copy = {
		.size = sizeof(copy),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.dst_ioas_id = ioas2,
		.src_ioas_id = ioas,
		.length = BUFFER_SIZE,
		.dst_iova = map.iova,
		.src_iova = map.iova,
	};
	CHECK(ioctl(fd, IOMMU_IOAS_COPY, &copy));
	CHECK(check_refs(fd, buf, BUFFER_SIZE, 1));
	printf("copied into ioas %u at iova 0x%llx, still one pin per page\n", ioas2,
	       (unsigned long long)copy.dst_iova);

	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap), .ioas_id = ioas, .iova = map.iova, .length = BUFFER_SIZE };
	CHECK(ioctl(fd, IOMMU_IOAS_UNMAP, &unmap));
	struct iommu_ioas_unmap unmap2 = { .size = sizeof(unmap2), .ioas_id = ioas2, .iova = copy.dst_iova, .length = BUFFER_SIZE };
	CHECK(ioctl(fd, IOMMU_IOAS_UNMAP, &unmap2));
	CHECK(check_refs(fd, buf, BUFFER_SIZE, 0));
	printf("unmapped %llu + %llu bytes, no pins left\n", (unsigned long long)unmap.length,
	       (unsigned long long)unmap2.length);

	close(fd);
	return 0;
}
