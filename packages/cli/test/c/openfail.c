/* The first open fails as decided by the model (ENOMEM from fault injection); the next succeeds. */
#include "check.h"

int main(void)
{
	EXPECT_ERRNO(ENOMEM, open("/dev/iommu", O_RDWR));
	int fd = open("/dev/iommu", O_RDWR);
	EXPECT_EQ(3, fd);
	EXPECT_EQ(0, rlimit_mode(fd));
	DONE();
}
