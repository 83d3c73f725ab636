/*
 * Threads share the process's connection to the daemon: four threads each
 * open their own context and set/get its RLIMIT_MODE many times while
 * also dup'ing and closing fds of a shared context; every answer must be
 * the thread's own.
 */
#include "check.h"
#include <pthread.h>

static int shared_fd;
static int errors[4];

static void *worker(void *p)
{
	int me = (int)(intptr_t)p;
	uint64_t mine = me % 2;
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0 || set_rlimit_mode(fd, mine)) errors[me]++;
	for (int i = 0; i < 300; i++) {
		if (rlimit_mode(fd) != mine) errors[me]++;
		int d = dup(shared_fd);
		if (rlimit_mode(d) != 1) errors[me]++;
		if (close(d)) errors[me]++;
	}
	close(fd);
	return NULL;
}

int main(void)
{
	shared_fd = open("/dev/iommu", O_RDWR);
	EXPECT_EQ(0, set_rlimit_mode(shared_fd, 1));
	pthread_t t[4];
	for (intptr_t i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++) EXPECT_EQ(0, errors[i]);
	EXPECT_EQ(1, rlimit_mode(shared_fd));
	DONE();
}
