/*
 * /dev/iommu through the shim: Linux's cmd_fail and size rules
 * (tools/testing/selftests/iommu/iommufd.c: cmd_fail, cmd_length,
 * cmd_ex_fail) with real pointers, plus what a missing node and the fd
 * life cycle look like to a program.
 */
#include "check.h"
#include <sys/mman.h>

int main(void)
{
	/* The served fd is the lowest free number, as from the kernel. */
	int fd = open("/dev/iommu", O_RDWR);
	EXPECT_EQ(3, fd);

	struct iommu_destroy d = { .size = sizeof(d), .id = 0 };
	EXPECT_ERRNO(ENOENT, ioctl(fd, IOMMU_DESTROY, &d));
	EXPECT_ERRNO(EFAULT, ioctl(fd, IOMMU_DESTROY, NULL));
	EXPECT_ERRNO(EFAULT, ioctl(fd, IOMMU_DESTROY, (void *)1));
	EXPECT_ERRNO(ENOTTY, ioctl(fd, _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE - 1), &d));
	EXPECT_ERRNO(ENOTTY, ioctl(fd, _IOWR('x', 0x80, struct iommu_destroy), &d));

	/* size below offsetofend(id) */
	d.size = 7;
	EXPECT_ERRNO(EINVAL, ioctl(fd, IOMMU_DESTROY, &d));

	/* cmd_ex_fail: a longer struct, zero tail accepted, non-zero tail E2BIG */
	struct { struct iommu_destroy cmd; uint64_t future; } ex = { { sizeof(ex), 0 }, 0 };
	EXPECT_ERRNO(ENOENT, ioctl(fd, IOMMU_DESTROY, &ex));
	ex.future = 1;
	EXPECT_ERRNO(E2BIG, ioctl(fd, IOMMU_DESTROY, &ex));

	/* A 1 MiB zero tail is read and checked like check_zeroed_user. */
	uint8_t *big = calloc(1, 1 << 20);
	((struct iommu_destroy *)big)->size = 1 << 20;
	EXPECT_ERRNO(ENOENT, ioctl(fd, IOMMU_DESTROY, big));
	big[(1 << 20) - 1] = 1;
	EXPECT_ERRNO(E2BIG, ioctl(fd, IOMMU_DESTROY, big));
	free(big);

	/* A tail running into an unmapped page faults. */
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(two + pg, pg);
	struct iommu_destroy *edge = (void *)(two + pg - sizeof(*edge));
	edge->size = sizeof(*edge) + 8;
	edge->id = 0;
	EXPECT_ERRNO(EFAULT, ioctl(fd, IOMMU_DESTROY, edge));
	edge->size = sizeof(*edge);
	EXPECT_ERRNO(ENOENT, ioctl(fd, IOMMU_DESTROY, edge));

	/* /dev/iommu has no read or write: vfs_read/vfs_write answer EINVAL. */
	char buf[8];
	EXPECT_ERRNO(EINVAL, read(fd, buf, sizeof buf));
	EXPECT_ERRNO(EINVAL, write(fd, buf, sizeof buf));

	/* Missing nodes of the model's namespace (the default platform has IOMMU
	 * groups 1-3 and three VFIO devices); real files are untouched. */
	EXPECT_ERRNO(ENOENT, open("/dev/vfio/7", O_RDWR));
	EXPECT_ERRNO(ENOENT, open("/dev/vfio/devices/vfio9", O_RDWR));
	EXPECT_ERRNO(ENOENT, open("/dev/vfio/01", O_RDWR));
	EXPECT_ERRNO(ENOENT, open("/dev/ioasidx", O_RDWR));
	int null = open("/dev/null", O_RDONLY);
	EXPECT_EQ(4, null);
	EXPECT_EQ(0, read(null, buf, sizeof buf));
	EXPECT_EQ(0, close(null));

	/* Other spellings of the path, relative and via a directory fd. */
	int fd2 = open("/dev//./vfio/../iommu", O_RDWR | O_CLOEXEC);
	EXPECT_EQ(4, fd2);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd2, F_GETFD));
	EXPECT_ERRNO(ENOENT, ioctl(fd2, IOMMU_DESTROY, &(struct iommu_destroy){ 8, 0 }));
	int dev = open("/dev", O_RDONLY | O_DIRECTORY);
	int fd3 = openat(dev, "iommu", O_RDWR);
	EXPECT_ERRNO(ENOENT, ioctl(fd3, IOMMU_DESTROY, &(struct iommu_destroy){ 8, 0 }));
	EXPECT_EQ(0, chdir("/dev"));
	int fd4 = open("iommu", O_RDWR);
	EXPECT_ERRNO(ENOENT, ioctl(fd4, IOMMU_DESTROY, &(struct iommu_destroy){ 8, 0 }));

	int fd5 = open("//dev/iommu", O_RDWR);
	EXPECT_ERRNO(ENOENT, ioctl(fd5, IOMMU_DESTROY, &(struct iommu_destroy){ 8, 0 }));

	/* A close-everything loop leaves the daemon connection alone. */
	for (int i = fd5 + 1; i < 1024; i++) close(i);
	EXPECT_ERRNO(ENOENT, ioctl(fd5, IOMMU_DESTROY, &(struct iommu_destroy){ 8, 0 }));

	/* After close the fd is gone, as for any fd. */
	EXPECT_EQ(0, close(fd));
	EXPECT_ERRNO(EBADF, ioctl(fd, IOMMU_DESTROY, &d));
	EXPECT_ERRNO(EBADF, close(fd));
	DONE();
}
