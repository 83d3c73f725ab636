/*
 * Hammers the shared-slot handshake (protocol.md "Shared slot"): THREADS
 * threads (each with its own iommufd context) make COUNT ioctls each, with
 * random pauses between them — none (the daemon is still polling), a
 * busy wait of up to 60 µs, a sleep of up to 400 µs (the daemon's polling
 * window passes: the request needs a WAKE), a yield — and now and then a
 * slow ioctl (a map of 4 MiB, which the shim outwaits asleep: the daemon
 * must WAKE it). Every answer is checked; a lost request or reply would
 * hang the program (the test's timeout). Usage: hammer SEED COUNT THREADS.
 */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>

#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, 0x85)
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, 0x86)
/* include/uapi/linux/iommufd.h */
struct iommu_ioas_alloc { uint32_t size, flags, out_ioas_id; };
struct iommu_ioas_map { uint32_t size, flags, ioas_id, __reserved; uint64_t user_va, length, iova; };
struct iommu_ioas_unmap { uint32_t size, ioas_id; uint64_t iova, length; };
enum { MAP_FIXED_IOVA = 1, MAP_WRITEABLE = 2, MAP_READABLE = 4 };
#define BIG (4u << 20)

static uint64_t seed;
static long count;
static int errors[8];

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void busy_us(long us)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

#define CHECK(me, cond) do { if (!(cond)) { printf("FAIL thread %d line %d: %s (errno %d)\n", me, __LINE__, #cond, errno); errors[me]++; } } while (0)

static void *worker(void *p)
{
	int me = (int)(intptr_t)p;
	uint64_t s = seed * 2654435761u + (uint64_t)me + 1;
	int fd = open("/dev/iommu", O_RDWR);
	CHECK(me, fd >= 0);
	/* Set while the context holds no object (else EBUSY: iommufd_option_rlimit_mode()). */
	uint64_t mode = (uint64_t)me % 2;
	CHECK(me, set_rlimit_mode(fd, mode) == 0);
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	CHECK(me, ioctl(fd, IOMMU_IOAS_ALLOC, &alloc) == 0);
	void *big = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(me, big != MAP_FAILED);
	for (long i = 0; i < count && !errors[me]; i++) {
		switch (rnd(&s) % 16) {
		case 0: { /* a slow ioctl: the shim sleeps until the daemon's WAKE */
			struct iommu_ioas_map map = {
				.size = sizeof(map), .flags = MAP_FIXED_IOVA | MAP_READABLE | MAP_WRITEABLE,
				.ioas_id = alloc.out_ioas_id, .user_va = (uintptr_t)big, .length = BIG, .iova = 1u << 24,
			};
			struct iommu_ioas_unmap unmap = { .size = sizeof(unmap), .ioas_id = alloc.out_ioas_id, .iova = 1u << 24, .length = BIG };
			CHECK(me, ioctl(fd, IOMMU_IOAS_MAP, &map) == 0);
			CHECK(me, ioctl(fd, IOMMU_IOAS_UNMAP, &unmap) == 0 && unmap.length == BIG);
			break;
		}
		case 1: { /* an object made and destroyed: a second destroy is ENOENT (iommufd_destroy) */
			struct iommu_ioas_alloc a = { .size = sizeof(a) };
			CHECK(me, ioctl(fd, IOMMU_IOAS_ALLOC, &a) == 0);
			struct iommu_destroy d = { .size = sizeof(d), .id = a.out_ioas_id };
			CHECK(me, ioctl(fd, IOMMU_DESTROY, &d) == 0);
			errno = 0;
			CHECK(me, ioctl(fd, IOMMU_DESTROY, &d) == -1 && errno == ENOENT);
			break;
		}
		case 2: /* an argument the shim cannot read: EFAULT from the daemon's own read */
			errno = 0;
			CHECK(me, ioctl(fd, IOMMU_OPTION, (void *)8) == -1 && errno == EFAULT);
			break;
		default: /* the cheapest round trip: this thread's context answers its own mode */
			CHECK(me, rlimit_mode(fd) == mode);
		}
		switch (rnd(&s) % 5) {
		case 0: busy_us((long)(rnd(&s) % 60)); break;
		case 1: usleep((useconds_t)(rnd(&s) % 400)); break;
		case 2: sched_yield(); break;
		default: break; /* back to back */
		}
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
	count = argc > 2 ? atol(argv[2]) : 500;
	int threads = argc > 3 ? atoi(argv[3]) : 1;
	if (threads < 1 || threads > 8) return 2;
	pthread_t t[8];
	for (intptr_t i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
	for (int i = 0; i < threads; i++) EXPECT_EQ(0, errors[i]);
	DONE();
}
