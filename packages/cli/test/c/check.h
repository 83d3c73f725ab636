/*
 * Shared by the test programs: iommufd ABI constants (Linux
 * include/uapi/linux/iommufd.h, v6.17; the system's headers may predate
 * iommufd) and tiny EXPECT macros that print "FAIL file:line: ..." and make
 * the program exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define IOMMUFD_TYPE (';')
#define IOMMUFD_CMD_BASE 0x80
#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, 0x80)
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, 0x81)
#define IOMMU_OPTION _IO(IOMMUFD_TYPE, 0x87)

struct iommu_destroy {
	uint32_t size;
	uint32_t id;
};

enum { IOMMU_OPTION_RLIMIT_MODE = 0, IOMMU_OPTION_HUGE_PAGES = 1 };
enum { IOMMU_OPTION_OP_SET = 0, IOMMU_OPTION_OP_GET = 1 };

struct iommu_option {
	uint32_t size;
	uint32_t option_id;
	uint16_t op;
	uint16_t __reserved;
	uint32_t object_id;
	uint64_t val64;
};

static int failures __attribute__((unused));

#define EXPECT_EQ(want, expr) do { \
	long long _w = (long long)(want), _g = (long long)(expr); \
	if (_w != _g) { printf("FAIL %s:%d: %s = %lld (errno %d), want %lld\n", __FILE__, __LINE__, #expr, _g, errno, _w); failures++; } \
} while (0)

#define EXPECT_ERRNO(want, expr) do { \
	errno = 0; \
	long long _g = (long long)(expr); \
	if (_g != -1 || errno != (want)) { printf("FAIL %s:%d: %s = %lld errno %d (%s), want -1 errno %d\n", __FILE__, __LINE__, #expr, _g, errno, strerror(errno), (want)); failures++; } \
} while (0)

#define DONE() do { printf("%s\n", failures ? "FAILED" : "PASSED"); return failures ? 1 : 0; } while (0)

static inline int option(int fd, uint16_t op, uint32_t id, uint64_t *val)
{
	struct iommu_option cmd = { .size = sizeof(cmd), .option_id = id, .op = op, .val64 = *val };
	int r = ioctl(fd, IOMMU_OPTION, &cmd);
	*val = cmd.val64;
	return r;
}

static inline uint64_t rlimit_mode(int fd)
{
	uint64_t v = 99;
	if (option(fd, IOMMU_OPTION_OP_GET, IOMMU_OPTION_RLIMIT_MODE, &v)) return 99;
	return v;
}

static inline int set_rlimit_mode(int fd, uint64_t v)
{
	return option(fd, IOMMU_OPTION_OP_SET, IOMMU_OPTION_RLIMIT_MODE, &v);
}
