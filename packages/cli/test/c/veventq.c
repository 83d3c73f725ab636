/*
 * A vEVENTQ fd under `iommu-sim exec`: the selftest mock's vIOMMU set up as
 * Linux's FIXTURE_SETUP(iommufd_viommu) does (mock device, NEST_PARENT
 * HWPT, vIOMMU, nested HWPT, vDEVICE 0x99, RID on the nested HWPT), then
 * IOMMU_VEVENTQ_ALLOC (depth 2) hands out a real fd: the lowest free one,
 * close-on-exec; poll sees nothing, three IOMMU_TEST_OP_TRIGGER_VEVENTs
 * make it readable; read(2) returns two {flags 0, sequence} + virt_id
 * records and the lost-events header {flags 1, sequence 2}; an empty queue
 * reads 0; write is EINVAL; IOMMU_DESTROY is EBUSY until the fd is closed.
 * Layouts: include/uapi/linux/iommufd.h and drivers/iommu/iommufd/
 * iommufd_test.h (v6.17), transcribed.
 */
#include <poll.h>
#include "check.h"

#define IOMMU_HWPT_ALLOC _IO(IOMMUFD_TYPE, 0x89)
#define IOMMU_VIOMMU_ALLOC _IO(IOMMUFD_TYPE, 0x90)
#define IOMMU_VDEVICE_ALLOC _IO(IOMMUFD_TYPE, 0x91)
#define IOMMU_VEVENTQ_ALLOC _IO(IOMMUFD_TYPE, 0x93)
#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, 0xa0)

enum { OP_MOCK_DOMAIN = 2, OP_MOCK_DOMAIN_REPLACE = 10, OP_TRIGGER_VEVENT = 17 };

/* struct iommu_test_cmd: {size, op, id, __reserved, union (from offset 16), last}, 72 bytes. */
static uint32_t test_cmd(int fd, uint32_t op, uint32_t id, uint32_t arg, uint32_t out[3])
{
	uint32_t cmd[18] = { 72, op, id, 0, arg };
	if (ioctl(fd, IOMMU_TEST_CMD, cmd)) return (uint32_t)-errno;
	if (out) memcpy(out, &cmd[4], 12);
	return 0;
}

/* struct iommu_hwpt_alloc, 48 bytes: → out_hwpt_id (offset 16). */
static uint32_t hwpt_alloc(int fd, uint32_t flags, uint32_t dev, uint32_t pt, uint32_t type, void *data, uint32_t len)
{
	struct { uint32_t size, flags, dev_id, pt_id, out, rsv, type, len; uint64_t uptr; uint32_t fault, rsv2; } c = {
		48, flags, dev, pt, 0, 0, type, len, (uintptr_t)data, 0, 0,
	};
	EXPECT_EQ(0, ioctl(fd, IOMMU_HWPT_ALLOC, &c));
	return c.out;
}

int main(void)
{
	int fd = open("/dev/iommu", O_RDWR);
	EXPECT_EQ(3, fd);
	uint32_t ioas_alloc[3] = { 12, 0, 0 };
	EXPECT_EQ(0, ioctl(fd, IOMMU_IOAS_ALLOC, ioas_alloc));
	uint32_t ids[3]; /* stdev, hwpt, idev */
	EXPECT_EQ(0, test_cmd(fd, OP_MOCK_DOMAIN, ioas_alloc[2], 0, ids));
	uint32_t parent = hwpt_alloc(fd, 1 /* NEST_PARENT */, ids[2], ioas_alloc[2], 0, NULL, 0);
	/* struct iommu_viommu_alloc, 40 bytes: type IOMMU_VIOMMU_TYPE_SELFTEST → out_viommu_id (offset 20). */
	uint32_t viommu[10] = { 40, 0, 0xdeadbeef, ids[2], parent };
	EXPECT_EQ(0, ioctl(fd, IOMMU_VIOMMU_ALLOC, viommu));
	uint32_t iotlb = 0; /* struct iommu_hwpt_selftest */
	uint32_t nested = hwpt_alloc(fd, 0, ids[2], viommu[5], 0xdead /* IOMMU_HWPT_DATA_SELFTEST */, &iotlb, 4);
	/* struct iommu_vdevice_alloc, 24 bytes: virt_id 0x99. */
	struct { uint32_t size, viommu_id, dev_id, out; uint64_t virt_id; } vdev = { 24, viommu[5], ids[2], 0, 0x99 };
	EXPECT_EQ(0, ioctl(fd, IOMMU_VDEVICE_ALLOC, &vdev));
	EXPECT_EQ(0, test_cmd(fd, OP_MOCK_DOMAIN_REPLACE, ids[0], nested, NULL));

	/* struct iommu_veventq_alloc, 32 bytes: IOMMU_VEVENTQ_TYPE_SELFTEST, depth 2. */
	uint32_t q[8] = { 32, 0, viommu[5], 0xbeefbeef, 2 };
	EXPECT_EQ(0, ioctl(fd, IOMMU_VEVENTQ_ALLOC, q));
	int qfd = (int)q[6];
	EXPECT_EQ(4, qfd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(qfd, F_GETFD));

	struct pollfd p = { .fd = qfd, .events = POLLIN | POLLOUT };
	EXPECT_EQ(0, poll(&p, 1, 0));
	for (int i = 0; i < 3; i++) EXPECT_EQ(0, test_cmd(fd, OP_TRIGGER_VEVENT, 0, ids[2], NULL));
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN, p.revents);

	uint32_t buf[9] = { 0 };
	EXPECT_EQ(32, read(qfd, buf, 36));
	uint32_t want[8] = { 0, 0, 0x99, 0, 1, 0x99, 1 /* IOMMU_VEVENTQ_FLAG_LOST_EVENTS */, 2 };
	EXPECT_EQ(0, memcmp(buf, want, sizeof want));
	EXPECT_EQ(0, read(qfd, buf, 36));
	EXPECT_ERRNO(EINVAL, write(qfd, buf, 8));

	uint32_t destroy[2] = { 8, q[5] };
	EXPECT_ERRNO(EBUSY, ioctl(fd, IOMMU_DESTROY, destroy));
	EXPECT_EQ(0, close(qfd));
	EXPECT_EQ(0, ioctl(fd, IOMMU_DESTROY, destroy));
	EXPECT_EQ(0, close(fd));
	DONE();
}
