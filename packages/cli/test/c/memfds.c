/*
 * Files for the slot-mapping addon's test (test/slot-map.test.ts): prints
 * "PID SEALED UNSEALED SMALL" — fds of a memfd of 20480 bytes sealed with
 * F_SEAL_SHRINK whose byte i is i % 251, an unsealed one of the same size,
 * and a sealed one of 4096 bytes — then, for each line "OFFSET" read on
 * stdin, prints the sealed memfd's byte at OFFSET as the program sees it
 * through its own MAP_SHARED mapping; exits at end of input.
 */
#include "check.h"
#include <sys/mman.h>

static int memfd(off_t size, int sealed)
{
	int m = memfd_create("slot-map-test", MFD_CLOEXEC | (sealed ? MFD_ALLOW_SEALING : 0));
	EXPECT_EQ(1, m >= 0);
	EXPECT_EQ(0, ftruncate(m, size));
	if (sealed) EXPECT_EQ(0, fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK));
	return m;
}

int main(void)
{
	int sealed = memfd(20480, 1), unsealed = memfd(20480, 0), small = memfd(4096, 1);
	uint8_t *p = mmap(NULL, 20480, PROT_READ | PROT_WRITE, MAP_SHARED, sealed, 0);
	EXPECT_EQ(1, p != MAP_FAILED);
	for (int i = 0; i < 20480; i++) p[i] = (uint8_t)(i % 251);
	printf("%d %d %d %d\n", (int)getpid(), sealed, unsealed, small);
	fflush(stdout);
	long off;
	while (scanf("%ld", &off) == 1) {
		EXPECT_EQ(1, off >= 0 && off < 20480);
		printf("%u\n", __atomic_load_n(p + off, __ATOMIC_ACQUIRE));
		fflush(stdout);
	}
	return failures ? 1 : 0;
}
