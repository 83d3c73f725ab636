/*
 * fault: an I/O page fault delivered to user space, the way a VMM handles
 * a device's PRI request for a guest (Linux
 * Documentation/userspace-api/iommufd.rst, "IOMMUFD_OBJ_FAULT").
 *
 *   iommu-sim exec -- ./fault
 *
 * 1. a mock device on an IOAS; a nesting parent HWPT over the IOAS;
 * 2. a fault queue (IOMMU_FAULT_QUEUE_ALLOC), which hands out a real fd;
 * 3. a nested (stage-1) HWPT whose faults go to that queue, and the device
 *    switched to it;
 * 4. the device faults (IOMMU_TEST_OP_TRIGGER_IOPF: a request without
 *    PASID — pasid 0 is IOMMU_NO_PASID —, group 2, read+write at
 *    0xdeadbeaf); poll(2) says the queue is readable;
 * 5. read(2) the fault (struct iommu_hwpt_pgfault) and write(2) the
 *    response with its cookie; the queue is then empty again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iommu-uapi.h"

#define CHECK(call)                                                            \
	do {                                                                   \
		if ((call) < 0) {                                              \
			fprintf(stderr, "fault: %s: %s\n", #call,              \
				strerror(errno));                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

static uint32_t hwpt_alloc(int fd, uint32_t flags, uint32_t dev_id, uint32_t pt_id, uint32_t fault_id,
			   struct iommu_hwpt_selftest *data)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = data ? IOMMU_HWPT_DATA_SELFTEST : 0,
		.data_len = data ? sizeof(*data) : 0,
		.data_uptr = (uintptr_t)data,
		.fault_id = fault_id,
	};
	CHECK(ioctl(fd, IOMMU_HWPT_ALLOC, &cmd));
	return cmd.out_hwpt_id;
}

int main(void)
{
	int fd = open("/dev/iommu", O_RDWR);
	CHECK(fd);
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	CHECK(ioctl(fd, IOMMU_IOAS_ALLOC, &ioas));
	struct iommu_test_cmd mock = { .size = sizeof(mock), .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = ioas.out_ioas_id };
	CHECK(ioctl(fd, IOMMU_TEST_CMD, &mock));
	uint32_t dev_id = mock.mock_domain.out_idev_id;
	uint32_t parent = hwpt_alloc(fd, IOMMU_HWPT_ALLOC_NEST_PARENT, dev_id, ioas.out_ioas_id, 0, NULL);

	/* The fault queue: an object id, and an fd to read faults from. */
	struct iommu_fault_alloc fault = { .size = sizeof(fault) };
	CHECK(ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &fault));
	printf("fault queue %u on fd %u\n", fault.out_fault_id, fault.out_fault_fd);

	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	uint32_t nested = hwpt_alloc(fd, IOMMU_HWPT_FAULT_ID_VALID, dev_id, parent, fault.out_fault_id, &data);
	struct iommu_test_cmd replace = {
		.size = sizeof(replace),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = mock.mock_domain.out_stdev_id,
		.mock_domain_replace = { .pt_id = nested },
	};
	CHECK(ioctl(fd, IOMMU_TEST_CMD, &replace));
	printf("device %u attached to nested hwpt %u\n", dev_id, nested);

	struct pollfd p = { .fd = (int)fault.out_fault_fd, .events = POLLIN };
	int ready = poll(&p, 1, 0);
	printf("before the fault: %d ready\n", ready);

	struct iommu_test_cmd iopf = {
		.size = sizeof(iopf),
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf = { .dev_id = dev_id, .pasid = 0, .grpid = 2, .perm = IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE, .addr = 0xdeadbeaf },
	};
	CHECK(ioctl(fd, IOMMU_TEST_CMD, &iopf));
	ready = poll(&p, 1, 1000);
	printf("after the fault: %d ready, revents 0x%x\n", ready, p.revents);

	struct iommu_hwpt_pgfault pf;
	ssize_t n = read(p.fd, &pf, sizeof(pf));
	CHECK(n);
	printf("read %zd bytes: dev %u pasid %u grpid %u perm 0x%x addr 0x%llx last %s\n", n, pf.dev_id, pf.pasid,
	       pf.grpid, pf.perm, (unsigned long long)pf.addr,
	       (pf.flags & IOMMU_HWPT_PGFAULT_FLAGS_LAST_PAGE) ? "yes" : "no");

	struct iommu_hwpt_page_response resp = { .cookie = pf.cookie, .code = 0 /* IOMMUFD_PAGE_RESP_SUCCESS */ };
	CHECK(write(p.fd, &resp, sizeof(resp)));
	ready = poll(&p, 1, 0);
	printf("responded; %d ready\n", ready);

	close(p.fd);
	close(fd);
	return 0;
}
