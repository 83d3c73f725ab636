/*
 * IOMMU_IOAS_MAP_FILE of the program's memfd (Linux ioas.c
 * iommufd_ioas_map_file(); the selftest's iommufd_mock_domain "file"
 * variants, which make their buffer with memfd_create + ftruncate + mmap
 * MAP_SHARED): the mock domain maps the memfd's pages, MD_CHECK_MAP finds
 * them behind the program's mapping of the same memfd, MD_CHECK_REFS
 * counts the pin, the device and the program see each other's bytes, and
 * the fd errors are Linux's (EBADF not open; EINVAL past the end, after
 * ftruncate to 0, not a memfd).
 */
#include "check.h"
#include <sys/mman.h>

/* include/uapi/linux/iommufd.h and drivers/iommu/iommufd/iommufd_test.h */
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, 0x86)
#define IOMMU_IOAS_MAP_FILE _IO(IOMMUFD_TYPE, 0x8f)
#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, 0xa0)
enum { IOMMU_IOAS_MAP_FIXED_IOVA = 1, IOMMU_IOAS_MAP_WRITEABLE = 2, IOMMU_IOAS_MAP_READABLE = 4 };
enum {
	IOMMU_TEST_OP_MOCK_DOMAIN = 2,
	IOMMU_TEST_OP_MD_CHECK_MAP = 3,
	IOMMU_TEST_OP_MD_CHECK_REFS = 4,
	IOMMU_TEST_OP_CREATE_ACCESS = 5,
	IOMMU_TEST_OP_ACCESS_RW = 8,
};
enum { MOCK_ACCESS_RW_WRITE = 1 << 0 };
struct iommu_ioas_alloc { uint32_t size, flags, out_ioas_id; };
struct iommu_ioas_map_file { uint32_t size, flags, ioas_id; int32_t fd; uint64_t start, length, iova; };
struct iommu_ioas_unmap { uint32_t size, ioas_id; uint64_t iova, length; };
/* struct iommu_test_cmd: 16 bytes of header, a 48-byte union, `last` (72 bytes). */
struct test_cmd { uint32_t size, op, id, reserved; uint64_t u[6]; uint32_t last, pad; };
#define APERTURE (1ull << 24) /* MOCK_APERTURE_START */
#define PAGE 4096ul
#define BUF_SIZE (8 * PAGE) /* the fixture's mmap_buf_size */

static int fd;
static uint32_t ioas;

static int map_file(int mfd, uint64_t start, uint64_t length, uint64_t *iova)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas, .fd = mfd, .start = start, .length = length,
	};
	int r = ioctl(fd, IOMMU_IOAS_MAP_FILE, &cmd);
	*iova = cmd.iova;
	return r;
}

/* MD_CHECK_MAP {iova, length, uptr} on mock HWPT `hwpt`. */
static int check_map(uint32_t hwpt, uint64_t iova, void *uptr, uint64_t length)
{
	struct test_cmd cmd = { .size = 72, .op = IOMMU_TEST_OP_MD_CHECK_MAP, .id = hwpt,
				.u = { iova, length, (uintptr_t)uptr } };
	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/* MD_CHECK_REFS {length, uptr, refs}. */
static int check_refs(void *uptr, uint64_t length, uint32_t refs)
{
	struct test_cmd cmd = { .size = 72, .op = IOMMU_TEST_OP_MD_CHECK_REFS,
				.u = { length, (uintptr_t)uptr, refs } };
	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/* IOMMU_TEST_OP_ACCESS_RW {iova, length, uptr, flags}. */
static int access_rw(uint32_t access_fd, uint64_t iova, void *uptr, uint64_t length, uint32_t flags)
{
	struct test_cmd cmd = { .size = 72, .op = IOMMU_TEST_OP_ACCESS_RW, .id = access_fd,
				.u = { iova, length, (uintptr_t)uptr, flags } };
	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/* iommufd_utils.h memfd_mmap(): a memfd of `length` bytes mapped MAP_SHARED. */
static void *memfd_mmap(size_t length, int *mfd_p)
{
	int mfd = memfd_create("buffer", 0);
	if (mfd < 0 || ftruncate(mfd, length))
		return MAP_FAILED;
	*mfd_p = mfd;
	return mmap(0, length, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
}

int main(void)
{
	fd = open("/dev/iommu", O_RDWR);
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	EXPECT_EQ(0, ioctl(fd, IOMMU_IOAS_ALLOC, &alloc));
	ioas = alloc.out_ioas_id;
	struct test_cmd mock = { .size = 72, .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = ioas };
	EXPECT_EQ(0, ioctl(fd, IOMMU_TEST_CMD, &mock));
	uint32_t hwpt = (uint32_t)(mock.u[0] >> 32); /* mock_domain {out_stdev_id, out_hwpt_id, …} */

	int mfd;
	uint8_t *buf = memfd_mmap(BUF_SIZE, &mfd);
	EXPECT_EQ(1, buf != MAP_FAILED);

	/* Simple one page map: the domain maps the memfd's first page, which the program's mapping shows. */
	uint64_t iova = 0;
	EXPECT_EQ(0, map_file(mfd, 0, PAGE, &iova));
	EXPECT_EQ(APERTURE, iova);
	EXPECT_EQ(0, check_map(hwpt, iova, buf, PAGE));
	EXPECT_EQ(0, check_refs(buf, PAGE, 1));
	EXPECT_ERRNO(EINVAL, check_map(hwpt, iova, buf + PAGE, PAGE)); /* another page of the file */

	/* Every start and length at MOCK_PAGE_SIZE (2 KiB) granularity in the first two pages (all_aligns). */
	for (uint64_t start = 0; start < 2 * PAGE; start += PAGE / 2) {
		for (uint64_t end = start + PAGE / 2; end <= 2 * PAGE; end += PAGE / 2) {
			uint64_t at = 0;
			EXPECT_EQ(0, map_file(mfd, start, end - start, &at));
			EXPECT_EQ(0, check_map(hwpt, at, buf + start, end - start));
			struct iommu_ioas_unmap unmap = { .size = sizeof(unmap), .ioas_id = ioas,
							  .iova = at, .length = end - start };
			EXPECT_EQ(0, ioctl(fd, IOMMU_IOAS_UNMAP, &unmap));
		}
	}
	EXPECT_EQ(0, check_refs(buf + PAGE, PAGE, 0));

	/* The device reads the program's stores in the memfd and its writes reach the program's mapping. */
	struct test_cmd create = { .size = 72, .op = IOMMU_TEST_OP_CREATE_ACCESS, .id = ioas };
	EXPECT_EQ(0, ioctl(fd, IOMMU_TEST_CMD, &create));
	uint32_t access = (uint32_t)create.u[0]; /* create_access.out_access_fd */
	memcpy(buf + 100, "memfd!", 6);
	char got[6] = { 0 };
	EXPECT_EQ(0, access_rw(access, iova + 100, got, 6, 0));
	EXPECT_EQ(0, memcmp(got, "memfd!", 6));
	EXPECT_EQ(0, access_rw(access, iova + 200, "DEVICE", 6, MOCK_ACCESS_RW_WRITE));
	EXPECT_EQ(0, memcmp(buf + 200, "DEVICE", 6));

	/* test_basic_file: past the end of the file, then after ftruncate to 0. */
	int tmp;
	uint8_t *other = memfd_mmap(BUF_SIZE, &tmp);
	EXPECT_EQ(1, other != MAP_FAILED);
	EXPECT_ERRNO(EINVAL, map_file(tmp, 0, BUF_SIZE + 1, &iova));
	EXPECT_EQ(0, ftruncate(tmp, 0));
	EXPECT_ERRNO(EINVAL, map_file(tmp, 0, BUF_SIZE, &iova));
	EXPECT_EQ(0, close(tmp));

	/* fget() finds nothing → EBADF; a file that is not a memfd (here /dev/iommu itself) → EINVAL. */
	EXPECT_ERRNO(EBADF, map_file(tmp, 0, PAGE, &iova));
	EXPECT_ERRNO(EBADF, map_file(-1, 0, PAGE, &iova));
	EXPECT_ERRNO(EINVAL, map_file(fd, 0, PAGE, &iova));
	DONE();
}
