import { withTimeout } from "@points/shared";
import type { Admin } from "@points/shared/kafka";
import type { PartitionLag } from "./metrics";

/** Committed offset vs high watermark per partition, as the broker sees them. */
export const LAG_QUERY_TIMEOUT_MS = 2_000;

export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<PartitionLag[]> {
  const query = Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const [watermarks, groupOffsets] = await withTimeout(query, LAG_QUERY_TIMEOUT_MS);
  const committed = new Map(groupOffsets[0]?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? []);
  return watermarks.map((w) => {
    const low = BigInt(w.low);
    const high = BigInt(w.high);
    // -1: nothing committed yet; the group will start at the earliest retained offset.
    const next = committed.get(w.partition) ?? -1n;
    return { partition: w.partition, committed: next < low ? low : next, high };
  });
}
