/*
 * The VFIO device cdev path (Linux drivers/vfio/device_cdev.c) with fds
 * passed by value: /dev/vfio/devices/vfio0 is bound to an iommufd given by
 * its fd number (VFIO_DEVICE_BIND_IOMMUFD), which the daemon resolves in
 * the program's fd table — an iommufd binds, another open file is EBADFD,
 * a closed fd EBADF (iommufd_ctx_from_fd()) — then attached to an IOAS
 * (VFIO_DEVICE_ATTACH_IOMMUFD_PT). Also: the group of a cdev-bound device
 * cannot be opened (EBUSY), and a group's container fd must be a container.
 */
#include "check.h"

/* include/uapi/linux/vfio.h (v6.17): the system's header may predate the cdev. */
#define VFIO_DEVICE_BIND_IOMMUFD _IO(';', 100 + 18)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(';', 100 + 19)
#define VFIO_GROUP_SET_CONTAINER _IO(';', 100 + 4)
struct vfio_device_bind_iommufd { uint32_t argsz, flags; int32_t iommufd; uint32_t out_devid; };
struct vfio_device_attach_iommufd_pt { uint32_t argsz, flags, pt_id; };
struct ioas_alloc { uint32_t size, flags, out_ioas_id; };

int main(void)
{
	int iommufd = open("/dev/iommu", O_RDWR);
	EXPECT_EQ(3, iommufd);
	int dev = open("/dev/vfio/devices/vfio0", O_RDWR);
	EXPECT_EQ(4, dev);

	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = 1 /* stdout */ };
	EXPECT_ERRNO(EBADFD, ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	bind.iommufd = 99;
	EXPECT_ERRNO(EBADF, ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	bind.iommufd = iommufd;
	EXPECT_EQ(0, ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	EXPECT_EQ(1, bind.out_devid != 0);

	/* A dup of the iommufd is the same file. */
	int dup_fd = dup(iommufd);
	struct ioas_alloc ioas = { .size = sizeof(ioas) };
	EXPECT_EQ(0, ioctl(dup_fd, IOMMU_IOAS_ALLOC, &ioas));
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach), .pt_id = ioas.out_ioas_id };
	EXPECT_EQ(0, ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));

	/* The device's group (1) is busy while the device is bound through its cdev. */
	EXPECT_ERRNO(EBUSY, open("/dev/vfio/1", O_RDWR));
	/* Group 2's container must be a container (an iommufd), not any file. */
	int group = open("/dev/vfio/2", O_RDWR);
	EXPECT_EQ(1, group >= 0);
	int one = 1;
	EXPECT_ERRNO(EBADFD, ioctl(group, VFIO_GROUP_SET_CONTAINER, &one));

	EXPECT_EQ(0, close(group));
	EXPECT_EQ(0, close(dev));
	EXPECT_EQ(0, close(dup_fd));
	EXPECT_EQ(0, close(iommufd));
	DONE();
}
