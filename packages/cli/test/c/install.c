/*
 * fds created by an ioctl (as IOMMU_FAULT_QUEUE_ALLOC's out_fault_fd): the
 * test driver of devices.test.ts answers ioctl 0x5678 on
 * /dev/vfio/test-queue by installing a new queue file in this process and
 * writing its fd number to the int at `arg`. The fd must be the lowest free
 * one (Linux get_unused_fd_flags()), close-on-exec, a working served fd
 * (write, read, dup), found again from its number (ioctl 0xdef0), and its
 * last close must release the file.
 */
#include "check.h"

int main(void)
{
	int fd = open("/dev/vfio/test-queue", O_RDWR);
	EXPECT_EQ(3, fd);
	int pipefd[2];
	EXPECT_EQ(0, pipe(pipefd)); /* 4 and 5 */
	EXPECT_EQ(0, close(pipefd[0])); /* 4 is now the lowest free fd */

	int newfd = -1;
	EXPECT_EQ(0, ioctl(fd, 0x5678, &newfd));
	EXPECT_EQ(4, newfd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(newfd, F_GETFD));

	/* The new fd is its own file: bytes written there are not in fd's queue. */
	EXPECT_EQ(3, write(newfd, "abc", 3));
	char buf[8] = { 0 };
	EXPECT_ERRNO(EAGAIN, read(fd, buf, sizeof buf));
	int copy = dup(newfd);
	EXPECT_EQ(6, copy);
	EXPECT_EQ(3, read(copy, buf, sizeof buf));
	/* The daemon finds the file behind an fd number passed by value (fget()). */
	EXPECT_EQ(1, ioctl(fd, 0xdef0, fd));
	EXPECT_EQ(1, ioctl(fd, 0xdef0, newfd));
	EXPECT_EQ(1, ioctl(fd, 0xdef0, copy));
	EXPECT_EQ(0, ioctl(fd, 0xdef0, 1)); /* stdout: not served */
	EXPECT_EQ(0, ioctl(fd, 0xdef0, 999));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));

	/* Two in one ioctl's lifetime each get their own number. */
	int second = -1;
	EXPECT_EQ(0, ioctl(fd, 0x5678, &second));
	EXPECT_EQ(7, second);
	EXPECT_EQ(0, close(second));
	EXPECT_EQ(0, close(newfd));
	EXPECT_EQ(0, close(copy));
	/* The driver counts releases on stdout's behalf: ioctl 0x9abc answers how many. */
	EXPECT_EQ(2, ioctl(fd, 0x9abc, 0));
	DONE();
}
