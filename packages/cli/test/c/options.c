/*
 * Linux's selftest fixture iommufd, test global_options
 * (tools/testing/selftests/iommu/iommufd.c), through the shim.
 */
#include "check.h"

int main(void)
{
	int fd = open("/dev/iommu", O_RDWR);
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = IOMMU_OPTION_RLIMIT_MODE,
		.op = IOMMU_OPTION_OP_GET,
		.val64 = 1,
	};
	EXPECT_EQ(0, ioctl(fd, IOMMU_OPTION, &cmd));
	EXPECT_EQ(0, cmd.val64);

	cmd.op = IOMMU_OPTION_OP_SET;
	cmd.val64 = 1;
	EXPECT_EQ(0, ioctl(fd, IOMMU_OPTION, &cmd));
	cmd.val64 = 2;
	EXPECT_ERRNO(EINVAL, ioctl(fd, IOMMU_OPTION, &cmd));

	cmd.op = IOMMU_OPTION_OP_GET;
	EXPECT_EQ(0, ioctl(fd, IOMMU_OPTION, &cmd));
	EXPECT_EQ(1, cmd.val64);

	cmd.op = IOMMU_OPTION_OP_SET;
	cmd.val64 = 0;
	EXPECT_EQ(0, ioctl(fd, IOMMU_OPTION, &cmd));

	cmd.op = IOMMU_OPTION_OP_GET;
	cmd.option_id = IOMMU_OPTION_HUGE_PAGES;
	EXPECT_ERRNO(ENOENT, ioctl(fd, IOMMU_OPTION, &cmd));
	cmd.op = IOMMU_OPTION_OP_SET;
	EXPECT_ERRNO(ENOENT, ioctl(fd, IOMMU_OPTION, &cmd));

	/* reserved members must be zero */
	cmd.option_id = IOMMU_OPTION_RLIMIT_MODE;
	cmd.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(fd, IOMMU_OPTION, &cmd));
	DONE();
}
