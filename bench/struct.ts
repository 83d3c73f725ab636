/**
 * A little-endian struct for benchmarks that drive ioctls on bytes:
 * `total` bytes, each field `[offset (bytes), size (4 or 8 bytes), value]`.
 * Shared by the bench modules of iommufd and vfio-compat (their tests use
 * @iommu-sim/uapi's codecs; a bench only needs the raw bytes once).
 */
export function struct(total: number, fields: [number, 4 | 8, number | bigint][]): Uint8Array {
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  for (const [off, size, val] of fields)
    size === 8 ? v.setBigUint64(off, BigInt(val), true) : v.setUint32(off, Number(val), true);
  return b;
}
