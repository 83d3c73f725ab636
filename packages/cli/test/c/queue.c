/*
 * read, write, poll and integer ioctl arguments on a served fd, against the
 * test driver of devices.test.ts at /dev/vfio/test-queue: write appends to
 * a byte queue, read takes from it (EAGAIN when empty), poll reports POLLIN
 * while bytes wait, ioctl 0x1234 answers its integer argument + 1.
 */
#include "check.h"
#include <poll.h>

int main(void)
{
	int fd = open("/dev/vfio/test-queue", O_RDWR);
	EXPECT_EQ(3, fd);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	EXPECT_EQ(0, poll(&p, 1, 0));
	EXPECT_EQ(0, p.revents);
	EXPECT_EQ(0, poll(&p, 1, 30));

	EXPECT_EQ(5, write(fd, "hello", 5));
	EXPECT_EQ(1, poll(&p, 1, -1));
	EXPECT_EQ(POLLIN, p.revents);
	char buf[8] = { 0 };
	EXPECT_EQ(3, read(fd, buf, 3));
	EXPECT_EQ(0, memcmp(buf, "hel", 3));
	EXPECT_EQ(2, read(fd, buf, sizeof buf));
	EXPECT_EQ(0, memcmp(buf, "lo", 2));
	EXPECT_ERRNO(EAGAIN, read(fd, buf, sizeof buf));
	const void *volatile bad = (const void *)8; /* hidden from the compiler's bounds checks */
	EXPECT_ERRNO(EFAULT, write(fd, bad, 4));

	/* A served fd and a real pipe in one poll. */
	int pipefd[2];
	EXPECT_EQ(0, pipe(pipefd));
	EXPECT_EQ(1, write(pipefd[1], "x", 1));
	struct pollfd two[2] = { { .fd = fd, .events = POLLIN }, { .fd = pipefd[0], .events = POLLIN } };
	EXPECT_EQ(1, poll(two, 2, 1000));
	EXPECT_EQ(0, two[0].revents);
	EXPECT_EQ(POLLIN, two[1].revents);
	EXPECT_EQ(1, write(fd, "y", 1));
	EXPECT_EQ(2, poll(two, 2, 1000));
	EXPECT_EQ(POLLIN, two[0].revents);

	/* Integer ioctl arguments pass through untouched. */
	EXPECT_EQ(42, ioctl(fd, 0x1234, 41));
	DONE();
}
