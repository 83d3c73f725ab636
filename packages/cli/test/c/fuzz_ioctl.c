/*
 * Random file traffic through the shim: opens, dups, closes and ioctls
 * with random requests, sizes and pointers (NULL, small integers, kernel
 * addresses, random bytes). Afterwards /dev/iommu must still answer as
 * Linux does. Usage: fuzz_ioctl SEED COUNT.
 */
#include "check.h"

static uint64_t s;
static uint64_t rnd(void)
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

static uint8_t buf[3 * 4096];

static void *random_arg(void)
{
	switch (rnd() % 8) {
	case 0: return NULL;
	case 1: return (void *)(uintptr_t)(rnd() % 4096);
	case 2: return (void *)0xffff888000000000ull;
	case 3: return (void *)(uintptr_t)rnd();
	default: {
		for (size_t i = 0; i < 64; i++) buf[i] = (uint8_t)rnd();
		static const uint32_t sizes[] = { 0, 3, 4, 8, 12, 16, 24, 32, 40, 64, 4096, 8192, 1 << 20, 0xffffffffu };
		uint32_t size = rnd() % 3 ? sizes[rnd() % (sizeof sizes / sizeof sizes[0])] : (uint32_t)rnd();
		if (rnd() % 2) memset(buf + 8, 0, sizeof buf - 8);
		memcpy(buf, &size, 4);
		return buf + (rnd() % 2 ? 0 : rnd() % 64);
	}
	}
}

static unsigned long random_request(void)
{
	switch (rnd() % 4) {
	case 0: return _IO(IOMMUFD_TYPE, 0x80 + rnd() % 0x18);
	case 1: return _IOC(rnd() % 4, IOMMUFD_TYPE, 0x78 + rnd() % 0x20, rnd() % 512);
	case 2: return (unsigned long)rnd();
	default: return IOMMU_OPTION;
	}
}

int main(int argc, char **argv)
{
	s = argc > 1 ? strtoull(argv[1], NULL, 0) | 1 : 1;
	long count = argc > 2 ? atol(argv[2]) : 2000;
	int fds[16];
	int n = 0;
	for (long i = 0; i < count; i++) {
		uint64_t what = rnd() % 16;
		if (n == 0 || (what == 0 && n < 16)) {
			int fd = open("/dev/iommu", O_RDWR);
			if (fd >= 0) fds[n++] = fd;
		} else if (what == 1) {
			int k = rnd() % n;
			close(fds[k]);
			fds[k] = fds[--n];
		} else if (what == 2 && n < 16) {
			int fd = dup(fds[rnd() % n]);
			if (fd >= 0) fds[n++] = fd;
		} else {
			errno = 0;
			int r = ioctl(fds[rnd() % n], random_request(), random_arg());
			if (r == -1 && (errno <= 0 || errno > 133)) {
				printf("FAIL: errno %d outside Linux's range\n", errno);
				failures++;
			}
		}
	}
	int fd = open("/dev/iommu", O_RDWR);
	struct iommu_destroy d = { sizeof d, 0 };
	EXPECT_ERRNO(ENOENT, ioctl(fd, IOMMU_DESTROY, &d));
	EXPECT_EQ(0, rlimit_mode(fd));
	DONE();
}
