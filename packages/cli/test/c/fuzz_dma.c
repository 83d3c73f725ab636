/*
 * Random DMA traffic through every node the daemon serves: IOAS alloc,
 * mock domains, IOAS_MAP of this program's memory at random addresses and
 * lengths (mapped, partly unmapped, remapped, shared, NULL, kernel
 * addresses), UNMAP, COPY, MD_CHECK_MAP/_REFS, fault queues (random
 * read/write/poll on their fds), VFIO groups and device fds (random
 * container fds and device names), /dev/ioasid, and forks whose children
 * map and exit. Every failure must be an errno in Linux's range; at the
 * end /dev/iommu still answers as Linux does.
 * Usage: fuzz_dma SEED COUNT.
 */
#include "check.h"
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define IOMMU_IOAS_COPY _IO(IOMMUFD_TYPE, 0x83)
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, 0x85)
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, 0x86)
#define IOMMU_FAULT_QUEUE_ALLOC _IO(IOMMUFD_TYPE, 0x8e)
#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, 0xa0)

static uint64_t s;
static uint64_t rnd(void)
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

#define REGION (64 * 4096)
static uint8_t *region;   /* private memory the program maps and unmaps pages of */
static uint8_t *shared;   /* MAP_SHARED memory, also seen by forked children */
static int fds[24];
static int nfds;

static void keep(int fd)
{
	if (fd >= 0 && nfds < 24) fds[nfds++] = fd;
	else if (fd >= 0) close(fd);
}

static int any_fd(void) { return nfds ? fds[rnd() % nfds] : (int)(rnd() % 32); }

static uint64_t random_va(void)
{
	switch (rnd() % 6) {
	case 0: return 0;
	case 1: return 0xffff888000000000ull + rnd() % 4096;
	case 2: return (uintptr_t)shared + rnd() % REGION;
	default: return (uintptr_t)region + rnd() % REGION;
	}
}

static uint64_t random_len(void)
{
	static const uint64_t lens[] = { 0, 1, 2048, 4096, 8192, 3 * 4096, REGION, 1ull << 40, ~0ull };
	return rnd() % 4 ? lens[rnd() % (sizeof lens / sizeof lens[0])] : rnd() % (2 * REGION);
}

static void check(int r)
{
	if (r == -1 && (errno <= 0 || errno > 133)) {
		printf("FAIL: errno %d outside Linux's range\n", errno);
		failures++;
	}
}

/* struct iommu_test_cmd: size, op, id, reserved, a 48-byte union, last. */
static int test_cmd(int fd, uint32_t op, uint32_t id, const uint64_t *u, int n)
{
	uint64_t cmd[9] = { 72 | (uint64_t)op << 32, id };
	for (int i = 0; i < n && i < 6; i++) cmd[2 + i] = u[i];
	return ioctl(fd, IOMMU_TEST_CMD, cmd);
}

static void one_op(void)
{
	int fd = any_fd();
	uint64_t u[6] = { random_va(), random_len(), random_va(), rnd(), rnd(), rnd() };
	errno = 0;
	switch (rnd() % 18) {
	case 0: keep(open("/dev/iommu", O_RDWR)); break;
	case 1: keep(open(rnd() % 2 ? "/dev/vfio/vfio" : "/dev/ioasid", O_RDWR)); break;
	case 2: {
		char path[32];
		snprintf(path, sizeof path, rnd() % 2 ? "/dev/vfio/%u" : "/dev/vfio/devices/vfio%u", (unsigned)(rnd() % 5));
		keep(open(path, O_RDWR));
		break;
	}
	case 3:
		if (nfds) {
			int k = rnd() % nfds;
			close(fds[k]);
			fds[k] = fds[--nfds];
		}
		break;
	case 4: { /* IOAS alloc */
		uint32_t a[3] = { 12, 0, 0 };
		check(ioctl(fd, IOMMU_IOAS_ALLOC, a));
		break;
	}
	case 5: check(test_cmd(fd, 2 /* MOCK_DOMAIN */, rnd() % 8, u, 0)); break;
	case 6: case 7: { /* IOAS_MAP: size, flags, ioas_id, reserved, user_va, length, iova */
		uint64_t m[5] = { 40 | (uint64_t)(rnd() % 8) << 32, rnd() % 8, random_va(), random_len(), (1ull << 24) + (rnd() % 64) * 2048 };
		check(ioctl(fd, IOMMU_IOAS_MAP, m));
		break;
	}
	case 8: { /* IOAS_UNMAP: size, ioas_id, iova, length */
		uint64_t m[3] = { 24 | (rnd() % 8) << 32, rnd() % 2 ? 0 : (1ull << 24) + (rnd() % 64) * 4096, rnd() % 2 ? ~0ull : random_len() };
		check(ioctl(fd, IOMMU_IOAS_UNMAP, m));
		break;
	}
	case 9: { /* IOAS_COPY: size, flags, dst, src, length, dst_iova, src_iova */
		uint64_t m[5] = { 40 | (uint64_t)(rnd() % 8) << 32, (rnd() % 8) | (rnd() % 8) << 32, random_len(), rnd() % 2 ? 1ull << 24 : rnd(), 1ull << 24 };
		check(ioctl(fd, IOMMU_IOAS_COPY, m));
		break;
	}
	case 10: check(test_cmd(fd, 3 + rnd() % 2 /* MD_CHECK_MAP/REFS */, rnd() % 8, u, 4)); break;
	case 11: check(test_cmd(fd, 5 + rnd() % 7 /* accesses, limits, replace */, rnd() % 24, u, 6)); break;
	case 12: { /* a fault queue, whose fd joins the others */
		uint32_t q[4] = { 16, 0, 0, 0 };
		if (ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, q) == 0) keep((int)q[3]);
		else check(-1);
		break;
	}
	case 13: {
		uint8_t b[64];
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
		check(poll(&p, 1, 0));
		errno = 0;
		for (size_t i = 0; i < sizeof b; i++) b[i] = (uint8_t)rnd();
		check(rnd() % 2 ? (int)read(fd, b, rnd() % sizeof b) : (int)write(fd, b, rnd() % sizeof b));
		break;
	}
	case 14: { /* VFIO group/container/device ioctls with random arguments */
		static const unsigned long reqs[] = { 0x3b64, 0x3b65, 0x3b66, 0x3b67, 0x3b68, 0x3b69, 0x3b6a, 0x3b6b, 0x3b70, 0x3b71, 0x3b72, 0x3b76 };
		int cfd = any_fd();
		uint64_t arg[8] = { rnd(), rnd(), random_va(), (1ull << 28), random_len() };
		unsigned long req = reqs[rnd() % (sizeof reqs / sizeof reqs[0])];
		void *p = rnd() % 3 == 0 ? (void *)&cfd : rnd() % 2 ? (void *)"0000:00:02.0" : (void *)arg;
		if (rnd() % 4 == 0) arg[0] = 32 | (uint64_t)(rnd() % 4) << 32;
		check(ioctl(fd, req, rnd() % 5 ? p : (void *)(uintptr_t)rnd()));
		break;
	}
	case 15: { /* /dev/ioasid: info, alloc, free */
		uint32_t a[4] = { 16, 0, (uint32_t)(rnd() % 8), (uint32_t)(rnd() % 64) };
		check(ioctl(fd, 0x6964 + rnd() % 4, rnd() % 4 ? (void *)a : (void *)(uintptr_t)rnd()));
		break;
	}
	case 16: { /* memory under the program's feet: unmap and remap pages of the region */
		size_t page = rnd() % 64;
		munmap(region + page * 4096, 4096);
		if (rnd() % 2) mmap(region + page * 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		memset(shared + (rnd() % 64) * 4096, (int)rnd(), 4096);
		break;
	}
	default: { /* a child maps through the inherited fds, then exits */
		pid_t child = fork();
		if (child == 0) {
			for (int i = 0; i < 20; i++) one_op();
			_exit(0);
		}
		if (child > 0) waitpid(child, NULL, 0);
		break;
	}
	}
}

int main(int argc, char **argv)
{
	s = argc > 1 ? strtoull(argv[1], NULL, 0) | 1 : 1;
	long count = argc > 2 ? atol(argv[2]) : 2000;
	region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	shared = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || shared == MAP_FAILED) return 1;
	memset(region, 0x5a, REGION);
	keep(open("/dev/iommu", O_RDWR));
	for (long i = 0; i < count; i++) one_op();
	while (nfds) close(fds[--nfds]);

	int fd = open("/dev/iommu", O_RDWR);
	struct iommu_destroy d = { sizeof d, 0 };
	EXPECT_ERRNO(ENOENT, ioctl(fd, IOMMU_DESTROY, &d));
	EXPECT_EQ(0, rlimit_mode(fd));
	DONE();
}
