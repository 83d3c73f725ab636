/*
 * The VFIO type1 container on iommufd (Linux drivers/iommu/iommufd/vfio_compat.c),
 * as an unmodified VFIO program sees it through /dev/vfio/vfio: API version,
 * extensions, SET_IOMMU before and after a compat IOAS exists, GET_INFO's
 * argsz rule, per-mm accounting by default, and the VFIO ioctls on a
 * /dev/iommu fd too. VFIO constants come from the system's <linux/vfio.h>.
 */
#include "check.h"
#include <linux/vfio.h>

#define SIM_IOMMU_VFIO_IOAS _IO(IOMMUFD_TYPE, 0x88)

struct sim_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};

struct sim_vfio_ioas {
	uint32_t size;
	uint32_t ioas_id;
	uint16_t op;
	uint16_t __reserved;
};

int main(void)
{
	int c = open("/dev/vfio/vfio", O_RDWR);
	EXPECT_EQ(1, c >= 0);
	EXPECT_EQ(VFIO_API_VERSION, ioctl(c, VFIO_GET_API_VERSION));
	EXPECT_EQ(1, ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(1, ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(0, ioctl(c, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU));
	/* no compat IOAS yet: ENODEV (the legacy type1 driver would say EINVAL) */
	EXPECT_ERRNO(ENODEV, ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));

	/* /dev/vfio/vfio accounts pinned pages per mm, like VFIO */
	struct iommu_option opt = { .size = sizeof(opt), .option_id = IOMMU_OPTION_RLIMIT_MODE, .op = IOMMU_OPTION_OP_GET };
	EXPECT_EQ(0, ioctl(c, IOMMU_OPTION, &opt));
	EXPECT_EQ(1, opt.val64);

	struct sim_ioas_alloc alloc = { .size = sizeof(alloc) };
	EXPECT_EQ(0, ioctl(c, IOMMU_IOAS_ALLOC, &alloc));
	struct sim_vfio_ioas set = { .size = sizeof(set), .ioas_id = alloc.out_ioas_id, .op = 1 /* SET */ };
	EXPECT_EQ(0, ioctl(c, SIM_IOMMU_VFIO_IOAS, &set));
	EXPECT_EQ(0, ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_ERRNO(EINVAL, ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU));

	/* GET_INFO with argsz too small for the capability chain: argsz says how much is needed */
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	EXPECT_EQ(0, ioctl(c, VFIO_IOMMU_GET_INFO, &info));
	EXPECT_EQ(1, (info.flags & VFIO_IOMMU_INFO_PGSIZES) != 0);
	EXPECT_EQ(1, info.argsz > sizeof(info));
	EXPECT_EQ(0, info.cap_offset);
	EXPECT_ERRNO(ENOTTY, ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &info));
	close(c);

	/* the same container ioctls answer on a /dev/iommu fd */
	int fd = open("/dev/iommu", O_RDWR);
	EXPECT_EQ(VFIO_API_VERSION, ioctl(fd, VFIO_GET_API_VERSION));
	EXPECT_EQ(0, ioctl(fd, IOMMU_OPTION, &opt));
	EXPECT_EQ(0, opt.val64);
	close(fd);
	DONE();
}
