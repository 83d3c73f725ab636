/**
 * Golden layouts, transcribed by hand from the Linux headers (not computed by
 * this package): struct name → [sizeof, { member: offsetof }].
 *
 * - iommufd: include/uapi/linux/iommufd.h, Linux v6.17 (torvalds/linux b4d90dbc4c1b).
 * - selftest: drivers/iommu/iommufd/iommufd_test.h, Linux v6.17 (80478a2b450e).
 * - VFIO: include/uapi/linux/vfio.h, Linux v6.17 (also checked by gcc against
 *   the system header in c-compiler.test.ts).
 * - /dev/ioasid: the RFC in seeds/000_*.
 * - old IOMMU UAPI: include/uapi/linux/iommu.h, Linux v5.10.
 */
export type Golden = Record<string, readonly [number, Record<string, number>]>;

export const IOMMUFD_GOLDEN: Golden = {
  iommu_destroy: [8, { size: 0, id: 4 }],
  iommu_ioas_alloc: [12, { size: 0, flags: 4, out_ioas_id: 8 }],
  iommu_iova_range: [16, { start: 0, last: 8 }],
  iommu_ioas_iova_ranges: [
    32,
    { size: 0, ioas_id: 4, num_iovas: 8, __reserved: 12, allowed_iovas: 16, out_iova_alignment: 24 },
  ],
  iommu_ioas_allow_iovas: [24, { size: 0, ioas_id: 4, num_iovas: 8, __reserved: 12, allowed_iovas: 16 }],
  iommu_ioas_map: [40, { size: 0, flags: 4, ioas_id: 8, __reserved: 12, user_va: 16, length: 24, iova: 32 }],
  iommu_ioas_map_file: [40, { size: 0, flags: 4, ioas_id: 8, fd: 12, start: 16, length: 24, iova: 32 }],
  iommu_ioas_copy: [
    40,
    { size: 0, flags: 4, dst_ioas_id: 8, src_ioas_id: 12, length: 16, dst_iova: 24, src_iova: 32 },
  ],
  iommu_ioas_unmap: [24, { size: 0, ioas_id: 4, iova: 8, length: 16 }],
  iommu_option: [24, { size: 0, option_id: 4, op: 8, __reserved: 10, object_id: 12, val64: 16 }],
  iommu_vfio_ioas: [12, { size: 0, ioas_id: 4, op: 8, __reserved: 10 }],
  iommu_hwpt_vtd_s1: [24, { flags: 0, pgtbl_addr: 8, addr_width: 16, __reserved: 20 }],
  iommu_hwpt_arm_smmuv3: [16, { ste: 0 }],
  iommu_hwpt_alloc: [
    48,
    {
      size: 0,
      flags: 4,
      dev_id: 8,
      pt_id: 12,
      out_hwpt_id: 16,
      __reserved: 20,
      data_type: 24,
      data_len: 28,
      data_uptr: 32,
      fault_id: 40,
      __reserved2: 44,
    },
  ],
  iommu_hw_info_vtd: [24, { flags: 0, __reserved: 4, cap_reg: 8, ecap_reg: 16 }],
  iommu_hw_info_arm_smmuv3: [40, { flags: 0, __reserved: 4, idr: 8, iidr: 32, aidr: 36 }],
  iommu_hw_info_tegra241_cmdqv: [8, { flags: 0, version: 4, log2vcmdqs: 5, log2vsids: 6, __reserved: 7 }],
  iommu_hw_info: [
    40,
    {
      size: 0,
      flags: 4,
      dev_id: 8,
      data_len: 12,
      data_uptr: 16,
      in_data_type: 24,
      out_data_type: 24,
      out_max_pasid_log2: 28,
      __reserved: 29,
      out_capabilities: 32,
    },
  ],
  iommu_hwpt_set_dirty_tracking: [16, { size: 0, flags: 4, hwpt_id: 8, __reserved: 12 }],
  iommu_hwpt_get_dirty_bitmap: [
    48,
    { size: 0, hwpt_id: 4, flags: 8, __reserved: 12, iova: 16, length: 24, page_size: 32, data: 40 },
  ],
  iommu_hwpt_vtd_s1_invalidate: [24, { addr: 0, npages: 8, flags: 16, __reserved: 20 }],
  iommu_viommu_arm_smmuv3_invalidate: [16, { cmd: 0 }],
  iommu_hwpt_invalidate: [
    32,
    { size: 0, hwpt_id: 4, data_uptr: 8, data_type: 16, entry_len: 20, entry_num: 24, __reserved: 28 },
  ],
  iommu_hwpt_pgfault: [
    40,
    { flags: 0, dev_id: 4, pasid: 8, grpid: 12, perm: 16, __reserved: 20, addr: 24, length: 32, cookie: 36 },
  ],
  iommu_hwpt_page_response: [8, { cookie: 0, code: 4 }],
  iommu_fault_alloc: [16, { size: 0, flags: 4, out_fault_id: 8, out_fault_fd: 12 }],
  iommu_viommu_tegra241_cmdqv: [16, { out_vintf_mmap_offset: 0, out_vintf_mmap_length: 8 }],
  iommu_viommu_alloc: [
    40,
    {
      size: 0,
      flags: 4,
      type: 8,
      dev_id: 12,
      hwpt_id: 16,
      out_viommu_id: 20,
      data_len: 24,
      __reserved: 28,
      data_uptr: 32,
    },
  ],
  iommu_vdevice_alloc: [24, { size: 0, viommu_id: 4, dev_id: 8, out_vdevice_id: 12, virt_id: 16 }],
  iommu_ioas_change_process: [8, { size: 0, __reserved: 4 }],
  iommufd_vevent_header: [8, { flags: 0, sequence: 4 }],
  iommu_vevent_arm_smmuv3: [32, { evt: 0 }],
  iommu_vevent_tegra241_cmdqv: [16, { lvcmdq_err_map: 0 }],
  iommu_veventq_alloc: [
    32,
    {
      size: 0,
      flags: 4,
      viommu_id: 8,
      type: 12,
      veventq_depth: 16,
      out_veventq_id: 20,
      out_veventq_fd: 24,
      __reserved: 28,
    },
  ],
  iommu_hw_queue_alloc: [
    40,
    {
      size: 0,
      flags: 4,
      viommu_id: 8,
      type: 12,
      index: 16,
      out_hw_queue_id: 20,
      nesting_parent_iova: 24,
      length: 32,
    },
  ],
};

/** IOCTL_OP(..., struct, last) of drivers/iommu/iommufd/main.c: name → [last member, offsetofend]. */
export const IOMMUFD_MIN_SIZE: Record<string, readonly [string, number]> = {
  IOMMU_DESTROY: ["id", 8],
  IOMMU_FAULT_QUEUE_ALLOC: ["out_fault_fd", 16],
  IOMMU_GET_HW_INFO: ["__reserved", 32],
  IOMMU_HW_QUEUE_ALLOC: ["length", 40],
  IOMMU_HWPT_ALLOC: ["__reserved", 24],
  IOMMU_HWPT_GET_DIRTY_BITMAP: ["data", 48],
  IOMMU_HWPT_INVALIDATE: ["__reserved", 32],
  IOMMU_HWPT_SET_DIRTY_TRACKING: ["__reserved", 16],
  IOMMU_IOAS_ALLOC: ["out_ioas_id", 12],
  IOMMU_IOAS_ALLOW_IOVAS: ["allowed_iovas", 24],
  IOMMU_IOAS_CHANGE_PROCESS: ["__reserved", 8],
  IOMMU_IOAS_COPY: ["src_iova", 40],
  IOMMU_IOAS_IOVA_RANGES: ["out_iova_alignment", 32],
  IOMMU_IOAS_MAP: ["iova", 40],
  IOMMU_IOAS_MAP_FILE: ["iova", 40],
  IOMMU_IOAS_UNMAP: ["length", 24],
  IOMMU_OPTION: ["val64", 24],
  IOMMU_VDEVICE_ALLOC: ["virt_id", 24],
  IOMMU_VEVENTQ_ALLOC: ["out_veventq_fd", 28],
  IOMMU_VFIO_IOAS: ["__reserved", 12],
  IOMMU_VIOMMU_ALLOC: ["out_viommu_id", 24],
  IOMMU_TEST_CMD: ["last", 68],
};

/** Full request numbers: _IO(';', nr) = 0x3b00 | nr. */
export const IOMMUFD_IOCTL_GOLDEN: Record<string, number> = {
  IOMMU_DESTROY: 0x3b80,
  IOMMU_IOAS_ALLOC: 0x3b81,
  IOMMU_IOAS_ALLOW_IOVAS: 0x3b82,
  IOMMU_IOAS_COPY: 0x3b83,
  IOMMU_IOAS_IOVA_RANGES: 0x3b84,
  IOMMU_IOAS_MAP: 0x3b85,
  IOMMU_IOAS_UNMAP: 0x3b86,
  IOMMU_OPTION: 0x3b87,
  IOMMU_VFIO_IOAS: 0x3b88,
  IOMMU_HWPT_ALLOC: 0x3b89,
  IOMMU_GET_HW_INFO: 0x3b8a,
  IOMMU_HWPT_SET_DIRTY_TRACKING: 0x3b8b,
  IOMMU_HWPT_GET_DIRTY_BITMAP: 0x3b8c,
  IOMMU_HWPT_INVALIDATE: 0x3b8d,
  IOMMU_FAULT_QUEUE_ALLOC: 0x3b8e,
  IOMMU_IOAS_MAP_FILE: 0x3b8f,
  IOMMU_VIOMMU_ALLOC: 0x3b90,
  IOMMU_VDEVICE_ALLOC: 0x3b91,
  IOMMU_IOAS_CHANGE_PROCESS: 0x3b92,
  IOMMU_VEVENTQ_ALLOC: 0x3b93,
  IOMMU_HW_QUEUE_ALLOC: 0x3b94,
  IOMMU_TEST_CMD: 0x3ba0,
};

export const SELFTEST_GOLDEN: Golden = {
  iommu_test_cmd: [72, { size: 0, op: 4, id: 8, __reserved: 12, add_reserved: 16, dirty: 16, last: 64 }],
  "iommu_test_cmd.add_reserved": [16, { start: 0, length: 8 }],
  "iommu_test_cmd.mock_domain": [12, { out_stdev_id: 0, out_hwpt_id: 4, out_idev_id: 8 }],
  "iommu_test_cmd.mock_domain_flags": [
    16,
    { out_stdev_id: 0, out_hwpt_id: 4, out_idev_id: 8, dev_flags: 12 },
  ],
  "iommu_test_cmd.mock_domain_replace": [4, { pt_id: 0 }],
  "iommu_test_cmd.check_map": [24, { iova: 0, length: 8, uptr: 16 }],
  "iommu_test_cmd.check_refs": [24, { length: 0, uptr: 8, refs: 16 }],
  "iommu_test_cmd.create_access": [8, { out_access_fd: 0, flags: 4 }],
  "iommu_test_cmd.destroy_access_pages": [4, { access_pages_id: 0 }],
  "iommu_test_cmd.access_pages": [32, { flags: 0, out_access_pages_id: 4, iova: 8, length: 16, uptr: 24 }],
  "iommu_test_cmd.access_rw": [32, { iova: 0, length: 8, uptr: 16, flags: 24 }],
  "iommu_test_cmd.memory_limit": [4, { limit: 0 }],
  "iommu_test_cmd.access_replace_ioas": [4, { ioas_id: 0 }],
  "iommu_test_cmd.dirty": [48, { flags: 0, iova: 8, length: 16, page_size: 24, uptr: 32, out_nr_dirty: 40 }],
  "iommu_test_cmd.check_iotlb": [8, { id: 0, iotlb: 4 }],
  "iommu_test_cmd.trigger_iopf": [24, { dev_id: 0, pasid: 4, grpid: 8, perm: 12, addr: 16 }],
  "iommu_test_cmd.check_dev_cache": [8, { id: 0, cache: 4 }],
  "iommu_test_cmd.trigger_vevent": [4, { dev_id: 0 }],
  "iommu_test_cmd.pasid_attach": [8, { pasid: 0, pt_id: 4 }],
  "iommu_test_cmd.pasid_replace": [8, { pasid: 0, pt_id: 4 }],
  "iommu_test_cmd.pasid_detach": [4, { pasid: 0 }],
  "iommu_test_cmd.pasid_check": [8, { pasid: 0, hwpt_id: 4 }],
  iommu_test_hw_info: [8, { flags: 0, test_reg: 4 }],
  iommu_hwpt_selftest: [4, { iotlb: 0 }],
  iommu_hwpt_invalidate_selftest: [8, { flags: 0, iotlb_id: 4 }],
  iommu_viommu_selftest: [24, { in_data: 0, out_data: 4, out_mmap_offset: 8, out_mmap_length: 16 }],
  iommu_viommu_invalidate_selftest: [12, { flags: 0, vdev_id: 4, cache_id: 8 }],
  iommu_viommu_event_selftest: [4, { virt_id: 0 }],
};

export const VFIO_GOLDEN: Golden = {
  vfio_info_cap_header: [8, { id: 0, version: 2, next: 4 }],
  vfio_group_status: [8, { argsz: 0, flags: 4 }],
  vfio_device_info: [20, { argsz: 0, flags: 4, num_regions: 8, num_irqs: 12, cap_offset: 16 }],
  vfio_iommu_type1_info: [24, { argsz: 0, flags: 4, iova_pgsizes: 8, cap_offset: 16, pad: 20 }],
  vfio_iova_range: [16, { start: 0, end: 8 }],
  vfio_iommu_type1_info_cap_iova_range: [16, { header: 0, nr_iovas: 8, reserved: 12 }],
  vfio_iommu_type1_info_cap_migration: [
    32,
    { header: 0, flags: 8, pgsize_bitmap: 16, max_dirty_bitmap_size: 24 },
  ],
  vfio_iommu_type1_info_dma_avail: [12, { header: 0, avail: 8 }],
  vfio_iommu_type1_dma_map: [32, { argsz: 0, flags: 4, vaddr: 8, iova: 16, size: 24 }],
  vfio_bitmap: [24, { pgsize: 0, size: 8, data: 16 }],
  vfio_iommu_type1_dma_unmap: [24, { argsz: 0, flags: 4, iova: 8, size: 16 }],
  vfio_iommu_type1_dirty_bitmap: [8, { argsz: 0, flags: 4 }],
  vfio_iommu_type1_dirty_bitmap_get: [40, { iova: 0, size: 8, bitmap: 16 }],
  vfio_device_bind_iommufd: [24, { argsz: 0, flags: 4, iommufd: 8, out_devid: 12, token_uuid_ptr: 16 }],
  vfio_device_attach_iommufd_pt: [16, { argsz: 0, flags: 4, pt_id: 8, pasid: 12 }],
  vfio_device_detach_iommufd_pt: [12, { argsz: 0, flags: 4, pasid: 8 }],
};

export const VFIO_IOCTL_GOLDEN: Record<string, number> = {
  VFIO_GET_API_VERSION: 0x3b64,
  VFIO_CHECK_EXTENSION: 0x3b65,
  VFIO_SET_IOMMU: 0x3b66,
  VFIO_GROUP_GET_STATUS: 0x3b67,
  VFIO_GROUP_SET_CONTAINER: 0x3b68,
  VFIO_GROUP_UNSET_CONTAINER: 0x3b69,
  VFIO_GROUP_GET_DEVICE_FD: 0x3b6a,
  VFIO_DEVICE_GET_INFO: 0x3b6b,
  VFIO_DEVICE_RESET: 0x3b6f,
  VFIO_IOMMU_GET_INFO: 0x3b70,
  VFIO_IOMMU_MAP_DMA: 0x3b71,
  VFIO_IOMMU_UNMAP_DMA: 0x3b72,
  VFIO_IOMMU_ENABLE: 0x3b73,
  VFIO_IOMMU_DISABLE: 0x3b74,
  VFIO_IOMMU_DIRTY_PAGES: 0x3b75,
  VFIO_DEVICE_FEATURE: 0x3b75,
  VFIO_DEVICE_BIND_IOMMUFD: 0x3b76,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: 0x3b77,
  VFIO_DEVICE_DETACH_IOMMUFD_PT: 0x3b78,
};

export const IOASID_GOLDEN: Golden = {
  ioasid_info: [12, { argsz: 0, flags: 4, ioasid_bits: 8 }],
  ioasid_alloc_request: [16, { argsz: 0, flags: 4, range: 8 }],
};

/** 'i' = 0x69; base 100 = 0x64. */
export const IOASID_IOCTL_GOLDEN: Record<string, number> = {
  IOASID_GET_API_VERSION: 0x6964,
  IOASID_GET_INFO: 0x6965,
  IOASID_REQUEST_ALLOC: 0x6966,
  IOASID_REQUEST_FREE: 0x6967,
};

export const LEGACY_GOLDEN: Golden = {
  iommu_inv_addr_info: [40, { flags: 0, archid: 4, pasid: 8, addr: 16, granule_size: 24, nb_granules: 32 }],
  iommu_inv_pasid_info: [16, { flags: 0, archid: 4, pasid: 8 }],
  iommu_cache_invalidate_info: [
    56,
    { argsz: 0, version: 4, cache: 8, granularity: 9, padding: 10, granu: 16 },
  ],
  iommu_gpasid_bind_data_vtd: [16, { flags: 0, pat: 8, emt: 12 }],
  iommu_gpasid_bind_data: [
    72,
    {
      argsz: 0,
      version: 4,
      format: 8,
      addr_width: 12,
      flags: 16,
      gpgd: 24,
      hpasid: 32,
      gpasid: 40,
      padding: 48,
      vendor: 56,
    },
  ],
  iommu_page_response: [24, { argsz: 0, version: 4, flags: 8, pasid: 12, grpid: 16, code: 20 }],
};
