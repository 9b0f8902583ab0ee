// Image formats written without qemu-img: the fake virt driver's snapshots and the tempest
// harness's test images.

/**
 * An empty qcow2 (version 2, 64 KiB clusters) of `virtualSize` bytes, laid out as `qemu-img
 * create -f qcow2` lays it: header, refcount table, one refcount block, a one-entry L1 table.
 */
export function tinyQcow2(virtualSize: number): Buffer {
  const cluster = 0x10000;
  const l1Entries = Math.max(1, Math.ceil(virtualSize / (cluster * (cluster / 8))));
  const l1Offset = 3 * cluster;
  const buf = Buffer.alloc(l1Offset + 8 * l1Entries);
  buf.writeUInt32BE(0x514649fb, 0); // 'QFI\xfb'
  buf.writeUInt32BE(2, 4); // version
  buf.writeUInt32BE(16, 20); // cluster_bits
  buf.writeBigUInt64BE(BigInt(virtualSize), 24);
  buf.writeUInt32BE(l1Entries, 36);
  buf.writeBigUInt64BE(BigInt(l1Offset), 40);
  buf.writeBigUInt64BE(BigInt(cluster), 48); // refcount_table_offset
  buf.writeUInt32BE(1, 56); // refcount_table_clusters
  buf.writeBigUInt64BE(BigInt(2 * cluster), cluster); // the table's one block
  for (let c = 0; c < 4; c++) buf.writeUInt16BE(1, 2 * cluster + 2 * c); // clusters 0-3 in use
  return buf;
}
