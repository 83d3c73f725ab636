/*
 * Device DMA meets the program's own memory (README "Real memory"): a
 * buffer mapped into an IOAS with a mock domain is read and written by the
 * selftest's in-kernel access (IOMMU_TEST_OP_ACCESS_RW, Linux
 * iommufd_access_rw(), drivers/iommu/iommufd/selftest.c), which reaches the
 * pinned pages. What the program stores, the access reads; what the access
 * writes, the program reads in its buffer — also across a page boundary,
 * also in a MAP_SHARED buffer a forked child mapped and is gone from.
 */
#include "check.h"
#include <sys/mman.h>
#include <sys/wait.h>

/* include/uapi/linux/iommufd.h and drivers/iommu/iommufd/iommufd_test.h */
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, 0x85)
#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, 0xa0)
enum { IOMMU_IOAS_MAP_FIXED_IOVA = 1, IOMMU_IOAS_MAP_WRITEABLE = 2, IOMMU_IOAS_MAP_READABLE = 4 };
enum { IOMMU_TEST_OP_MOCK_DOMAIN = 2, IOMMU_TEST_OP_CREATE_ACCESS = 5, IOMMU_TEST_OP_ACCESS_RW = 8 };
struct iommu_ioas_alloc { uint32_t size, flags, out_ioas_id; };
struct iommu_ioas_map { uint32_t size, flags, ioas_id, reserved; uint64_t user_va, length, iova; };
/* struct iommu_test_cmd: 16 bytes of header, a 48-byte union, `last` (72 bytes). */
struct test_cmd { uint32_t size, op, id, reserved; uint32_t u[12]; uint32_t last, pad; };
enum { MOCK_ACCESS_RW_WRITE = 1 << 0 };
#define APERTURE (1ull << 24)

static int fd;

/* IOMMU_TEST_OP_ACCESS_RW: `length` bytes between IOVA `iova` and `uptr`. */
static int access_rw(uint32_t access_fd, uint64_t iova, void *uptr, uint64_t length, uint32_t flags)
{
	struct {
		uint32_t size, op, id, reserved;
		uint64_t iova, length, uptr;
		uint32_t flags, pad[5];
		uint32_t last;
	} cmd = { .size = 72, .op = IOMMU_TEST_OP_ACCESS_RW, .id = access_fd, .iova = iova,
		  .length = length, .uptr = (uintptr_t)uptr, .flags = flags };
	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

static void map_fixed(uint32_t ioas, void *buf, uint64_t length, uint64_t iova)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas, .user_va = (uintptr_t)buf, .length = length, .iova = iova,
	};
	EXPECT_EQ(0, ioctl(fd, IOMMU_IOAS_MAP, &map));
}

int main(void)
{
	fd = open("/dev/iommu", O_RDWR);
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	EXPECT_EQ(0, ioctl(fd, IOMMU_IOAS_ALLOC, &alloc));
	struct test_cmd mock = { .size = 72, .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = alloc.out_ioas_id };
	EXPECT_EQ(0, ioctl(fd, IOMMU_TEST_CMD, &mock));
	struct test_cmd create = { .size = 72, .op = IOMMU_TEST_OP_CREATE_ACCESS, .id = alloc.out_ioas_id };
	EXPECT_EQ(0, ioctl(fd, IOMMU_TEST_CMD, &create));
	uint32_t access = create.u[0]; /* create_access.out_access_fd */
	EXPECT_EQ(4, (int)access); /* a real fd: lowest free after stdio and /dev/iommu */

	uint8_t *buf = (uint8_t *)mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	map_fixed(alloc.out_ioas_id, buf, 2 * 4096, APERTURE);

	/* The program's stores after the map reach the device's reads. */
	memcpy(buf + 4090, "program!", 8);
	char got[8] = { 0 };
	EXPECT_EQ(0, access_rw(access, APERTURE + 4090, got, 8, 0));
	EXPECT_EQ(0, memcmp(got, "program!", 8));

	/* The device's writes land in the program's buffer, across the page boundary. */
	EXPECT_EQ(0, access_rw(access, APERTURE + 4092, "DEVICE", 6, MOCK_ACCESS_RW_WRITE));
	EXPECT_EQ(0, memcmp(buf + 4090, "prDEVICE", 8));

	/* Shared memory a forked child mapped, then exited: the parent's stores are what the device reads. */
	uint8_t *shared = (uint8_t *)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t child = fork();
	if (child == 0) {
		failures = 0;
		map_fixed(alloc.out_ioas_id, shared, 4096, APERTURE + 0x10000);
		_exit(failures);
	}
	int status = -1;
	EXPECT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, status);
	memcpy(shared + 100, "parent", 6);
	EXPECT_EQ(0, access_rw(access, APERTURE + 0x10000 + 100, got, 6, 0));
	EXPECT_EQ(0, memcmp(got, "parent", 6));
	EXPECT_EQ(0, access_rw(access, APERTURE + 0x10000 + 200, "dma", 3, MOCK_ACCESS_RW_WRITE));
	EXPECT_EQ(0, memcmp(shared + 200, "dma", 3));

	EXPECT_EQ(0, close((int)access));
	DONE();
}
