/*
 * ioasid: PASIDs for a process through /dev/ioasid, the character device of
 * the 2021 RFC "ioasid: Add /dev/ioasid for userspace" (Liu Yi L;
 * Documentation/userspace-api/ioasid.rst in that series).
 *
 *   iommu-sim exec -- ./ioasid
 *
 * 1. open /dev/ioasid (one open per address space: a second one is EBUSY);
 * 2. ask the API version and the PASID width (IOASID_GET_INFO);
 * 3. allocate three PASIDs from [1, 100] — the lowest free ones — free
 *    the middle one, and allocate again: the freed PASID comes back;
 * 4. a range the RFC refuses (min > max) is EINVAL.
 *
 * Closing the fd frees every PASID the process still holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iommu-uapi.h"

/* IOASID_REQUEST_ALLOC returns the PASID itself (or -1 and errno). */
static int alloc_pasid(int fd, uint32_t min, uint32_t max)
{
	struct ioasid_alloc_request req = { .argsz = sizeof(req), .range = { .min = min, .max = max } };
	return ioctl(fd, IOASID_REQUEST_ALLOC, &req);
}

int main(void)
{
	int fd = open("/dev/ioasid", O_RDWR);
	if (fd < 0) {
		perror("open /dev/ioasid");
		return 1;
	}
	if (open("/dev/ioasid", O_RDWR) >= 0 || errno != EBUSY) {
		fprintf(stderr, "ioasid: a second open should be EBUSY\n");
		return 1;
	}
	printf("api version %d\n", ioctl(fd, IOASID_GET_API_VERSION));

	struct ioasid_info info = { .argsz = sizeof(info) };
	if (ioctl(fd, IOASID_GET_INFO, &info) != 0) {
		perror("IOASID_GET_INFO");
		return 1;
	}
	printf("ioasid_bits %u\n", info.ioasid_bits);

	int a = alloc_pasid(fd, 1, 100);
	int b = alloc_pasid(fd, 1, 100);
	int c = alloc_pasid(fd, 1, 100);
	printf("allocated %d %d %d\n", a, b, c);
	if (a < 0 || b < 0 || c < 0) return 1;

	/* IOASID_REQUEST_FREE takes a pointer to an int. */
	if (ioctl(fd, IOASID_REQUEST_FREE, &b) != 0) {
		perror("IOASID_REQUEST_FREE");
		return 1;
	}
	printf("freed %d, allocated %d again\n", b, alloc_pasid(fd, 1, 100));

	if (alloc_pasid(fd, 50, 10) != -1 || errno != EINVAL) {
		fprintf(stderr, "ioasid: min > max should be EINVAL\n");
		return 1;
	}
	printf("range [50, 10]: %s\n", strerror(EINVAL));
	close(fd);
	return 0;
}
