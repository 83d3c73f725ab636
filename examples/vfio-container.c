/*
 * vfio-container: the classic VFIO type1 flow a VMM (QEMU's vfio-pci) uses
 * to give a device DMA access to guest memory (Linux
 * Documentation/driver-api/vfio.rst, "VFIO Usage Example").
 *
 *   iommu-sim exec -- ./vfio-container
 *
 * 1. open the container /dev/vfio/vfio (in iommu-sim, as in Linux with
 *    CONFIG_IOMMUFD_VFIO_CONTAINER, an iommufd underneath);
 * 2. open the group /dev/vfio/1 (the default platform's accelerator
 *    "accel0", PCI 0000:00:02.0 behind VT-d), check it is viable, put it
 *    in the container and select the type1v2 IOMMU;
 * 3. map 1 MiB of this program's memory at IOVA 0x10000000 and unmap it;
 * 4. get the device fd and ask its info.
 *
 * Prints one line per step; exits 0 when everything held.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE (1024 * 1024)
#define IOVA 0x10000000ULL

/* Fail loudly: the call that went wrong and the errno Linux would set. */
#define CHECK(call)                                                            \
	do {                                                                   \
		if ((call) < 0) {                                              \
			fprintf(stderr, "vfio-container: %s: %s\n", #call,     \
				strerror(errno));                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

int main(void)
{
	int container = open("/dev/vfio/vfio", O_RDWR);
	CHECK(container);
	printf("api version %d, type1v2 %s\n", ioctl(container, VFIO_GET_API_VERSION),
	       ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1 ? "supported" : "missing");

	int group = open("/dev/vfio/1", O_RDWR);
	CHECK(group);
	struct vfio_group_status status = { .argsz = sizeof(status) };
	CHECK(ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	printf("group 1 %s\n", (status.flags & VFIO_GROUP_FLAGS_VIABLE) ? "viable" : "not viable");

	/* The group joins the container; then the container gets its IOMMU model. */
	CHECK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	CHECK(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	CHECK(ioctl(container, VFIO_IOMMU_GET_INFO, &info));
	printf("iova_pgsizes 0x%llx\n", (unsigned long long)info.iova_pgsizes);

	/* DMA map: the device may now read and write this buffer at IOVA. */
	void *buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) return 1;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)buf,
		.iova = IOVA,
		.size = SIZE,
	};
	CHECK(ioctl(container, VFIO_IOMMU_MAP_DMA, &map));
	printf("mapped 1 MiB at iova 0x%llx\n", IOVA);

	/* The device itself, by its PCI name. */
	int device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "0000:00:02.0");
	CHECK(device);
	struct vfio_device_info dinfo = { .argsz = sizeof(dinfo) };
	CHECK(ioctl(device, VFIO_DEVICE_GET_INFO, &dinfo));
	printf("device 0000:00:02.0: %s\n", (dinfo.flags & VFIO_DEVICE_FLAGS_PCI) ? "PCI" : "not PCI");

	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap), .iova = IOVA, .size = SIZE };
	CHECK(ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap));
	printf("unmapped %llu bytes\n", (unsigned long long)unmap.size);

	close(device);
	close(group);
	close(container);
	return 0;
}
