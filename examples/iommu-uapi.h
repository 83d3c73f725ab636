/*
 * The slice of the Linux IOMMU user ABI the examples use, for systems whose
 * headers predate iommufd (Debian 12 has no <linux/iommufd.h>).
 *
 * Layouts and numbers are Linux's: include/uapi/linux/iommufd.h (v6.17),
 * drivers/iommu/iommufd/iommufd_test.h (the selftest's IOMMU_TEST_CMD, which
 * iommu-sim models as CONFIG_IOMMUFD_TEST does), and the /dev/ioasid RFC's
 * include/uapi/linux/ioasid.h (2021). Little endian, natural alignment.
 */
#ifndef IOMMU_SIM_EXAMPLES_UAPI_H
#define IOMMU_SIM_EXAMPLES_UAPI_H

#include <stdint.h>
#include <sys/ioctl.h>

/* ---- iommufd: /dev/iommu ---- */

#define IOMMUFD_TYPE (';')
#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, 0x80)
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, 0x81)
#define IOMMU_IOAS_COPY _IO(IOMMUFD_TYPE, 0x83)
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, 0x85)
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, 0x86)
#define IOMMU_HWPT_ALLOC _IO(IOMMUFD_TYPE, 0x89)
#define IOMMU_FAULT_QUEUE_ALLOC _IO(IOMMUFD_TYPE, 0x8e)
#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, 0xa0)

struct iommu_destroy {
	uint32_t size;
	uint32_t id;
};

struct iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};

enum {
	IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
	IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
	IOMMU_IOAS_MAP_READABLE = 1 << 2,
};

struct iommu_ioas_map {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	uint32_t __reserved;
	uint64_t user_va;
	uint64_t length;
	uint64_t iova;
};

struct iommu_ioas_copy {
	uint32_t size;
	uint32_t flags;
	uint32_t dst_ioas_id;
	uint32_t src_ioas_id;
	uint64_t length;
	uint64_t dst_iova;
	uint64_t src_iova;
};

struct iommu_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	uint64_t iova;
	uint64_t length;
};

enum { IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0, IOMMU_HWPT_FAULT_ID_VALID = 1 << 2 };

struct iommu_hwpt_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t dev_id;
	uint32_t pt_id;
	uint32_t out_hwpt_id;
	uint32_t __reserved;
	uint32_t data_type;
	uint32_t data_len;
	uint64_t data_uptr;
	uint32_t fault_id;
	uint32_t __reserved2;
};

struct iommu_fault_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_fault_id;
	uint32_t out_fault_fd;
};

/* What read(2) of a fault queue fd returns: one per fault of a group. */
struct iommu_hwpt_pgfault {
	uint32_t flags;
	uint32_t dev_id;
	uint32_t pasid;
	uint32_t grpid;
	uint32_t perm;
	uint32_t __reserved;
	uint64_t addr;
	uint32_t length;
	uint32_t cookie;
};

enum { IOMMU_HWPT_PGFAULT_FLAGS_LAST_PAGE = 1 << 1 };
enum { IOMMU_PGFAULT_PERM_READ = 1 << 0, IOMMU_PGFAULT_PERM_WRITE = 1 << 1 };

/* What write(2) to a fault queue fd takes: the answer to a fault group. */
struct iommu_hwpt_page_response {
	uint32_t cookie;
	uint32_t code; /* IOMMUFD_PAGE_RESP_SUCCESS = 0, _INVALID = 1 */
};

/* ---- the selftest's IOMMU_TEST_CMD (iommufd_test.h) ---- */

enum {
	IOMMU_TEST_OP_MOCK_DOMAIN = 2,
	IOMMU_TEST_OP_MD_CHECK_MAP = 3,
	IOMMU_TEST_OP_MD_CHECK_REFS = 4,
	IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE = 10,
	IOMMU_TEST_OP_TRIGGER_IOPF = 15,
};

/* The mock driver's nested (stage-1) HWPT data: IOMMU_HWPT_DATA_SELFTEST. */
#define IOMMU_HWPT_DATA_SELFTEST 0xdead
#define IOMMU_TEST_IOTLB_DEFAULT 0xbadbeef
struct iommu_hwpt_selftest {
	uint32_t iotlb;
};

struct iommu_test_cmd {
	uint32_t size;
	uint32_t op;
	uint32_t id;
	uint32_t __reserved;
	union {
		struct {
			uint32_t out_stdev_id;
			uint32_t out_hwpt_id;
			uint32_t out_idev_id; /* the iommufd device id (dev_id) */
		} mock_domain;
		struct {
			uint32_t pt_id;
		} mock_domain_replace;
		struct {
			uint64_t iova;
			uint64_t length;
			uint64_t uptr;
		} check_map;
		struct {
			uint64_t length;
			uint64_t uptr;
			uint32_t refs;
		} check_refs;
		struct {
			uint32_t dev_id;
			uint32_t pasid;
			uint32_t grpid;
			uint32_t perm;
			uint64_t addr;
		} trigger_iopf;
		uint8_t pad[48]; /* the kernel's union is 48 bytes */
	};
	uint32_t last;
};

/* ---- /dev/ioasid (the 2021 RFC) ---- */

#define IOASID_TYPE ('i')
#define IOASID_BASE 100
#define IOASID_GET_API_VERSION _IO(IOASID_TYPE, IOASID_BASE + 0)
#define IOASID_GET_INFO _IO(IOASID_TYPE, IOASID_BASE + 1)
#define IOASID_REQUEST_ALLOC _IO(IOASID_TYPE, IOASID_BASE + 2)
#define IOASID_REQUEST_FREE _IO(IOASID_TYPE, IOASID_BASE + 3)

struct ioasid_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t ioasid_bits;
};

struct ioasid_alloc_request {
	uint32_t argsz;
	uint32_t flags;
	struct {
		uint32_t min;
		uint32_t max;
	} range;
};

#endif
