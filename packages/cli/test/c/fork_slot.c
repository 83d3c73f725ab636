/*
 * fork with the shared slot (protocol.md "Shared slot"): the parent and
 * three forked children make ioctls at the same time, on the context they
 * share and on contexts of their own. A child inherits the parent's slot
 * mapping (MAP_SHARED) but must never use it: it attaches a slot of its
 * own, so every answer is the asker's.
 */
#include "check.h"
#include <sys/wait.h>

static int loop(int shared, int own, uint64_t mine)
{
	int bad = 0;
	for (int i = 0; i < 400; i++) {
		if (rlimit_mode(shared) != 1) bad++;
		if (own >= 0 && rlimit_mode(own) != mine) bad++;
	}
	return bad;
}

int main(void)
{
	int shared = open("/dev/iommu", O_RDWR);
	EXPECT_EQ(0, set_rlimit_mode(shared, 1));
	pid_t kids[3];
	for (int k = 0; k < 3; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			int own = open("/dev/iommu", O_RDWR);
			if (own < 0 || set_rlimit_mode(own, 0)) _exit(3);
			_exit(loop(shared, own, 0) ? 4 : 0);
		}
		EXPECT_EQ(1, kids[k] > 0);
	}
	EXPECT_EQ(0, loop(shared, -1, 0));
	for (int k = 0; k < 3; k++) {
		int st = -1;
		EXPECT_EQ(kids[k], waitpid(kids[k], &st, 0));
		EXPECT_EQ(1, WIFEXITED(st));
		EXPECT_EQ(0, WEXITSTATUS(st));
	}
	EXPECT_EQ(1, rlimit_mode(shared));
	DONE();
}
