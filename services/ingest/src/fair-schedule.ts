/**
 * Fair scheduling of one fetched batch of `partner.transactions` (issue 18 item 6): a partner
 * flooding the topic must not make the others wait behind its whole backlog. The batch's messages
 * are put into chunks by round robin over partners: each chunk takes one message of each partner
 * that still has some, in turn, until the chunk is full. A partner's own messages keep their
 * offset order; only messages of different partners are reordered against each other (partners
 * produce independently, so no order between them was ever promised).
 *
 * Offsets are still committed in offset order: the consumer commits only up to the first message
 * not yet processed, so a crash redelivers whatever was processed out of order, and the
 * deterministic command id makes the ledger answer those repeats instead of applying them again.
 *
 * Pure: no I/O. The partner of a message is what its x-partner-id header claims (unverified at
 * this point); a message without one is scheduled as its own partner "".
 */
export interface FairPlan {
  /** Indices into the batch, chunk by chunk; every index exactly once. */
  chunks: number[][];
  /** Per partner: messages placed in a later chunk than plain offset order would have placed them. */
  deferred: Map<string, number>;
}

export function fairChunks(partners: readonly string[], chunkMessagesMax: number): FairPlan {
  if (!Number.isInteger(chunkMessagesMax) || chunkMessagesMax < 1) {
    throw new Error(`assertion: chunkMessagesMax must be a positive integer, got ${chunkMessagesMax}`);
  }
  const queues = new Map<string, number[]>();
  partners.forEach((partner, index) => {
    const queue = queues.get(partner);
    if (queue) queue.push(index);
    else queues.set(partner, [index]);
  });
  // Round robin in order of first appearance; a cursor per queue instead of shift() (O(n) each).
  const rotation = [...queues.values()].map((indices) => ({ indices, next: 0 }));
  const order: number[] = [];
  while (rotation.length > 0) {
    for (let r = 0; r < rotation.length; ) {
      const queue = rotation[r]!;
      order.push(queue.indices[queue.next++]!);
      if (queue.next === queue.indices.length) rotation.splice(r, 1);
      else r++;
    }
  }
  const chunks: number[][] = [];
  const deferred = new Map<string, number>();
  for (let start = 0; start < order.length; start += chunkMessagesMax) {
    const chunk = order.slice(start, start + chunkMessagesMax);
    const chunkNo = chunks.length;
    for (const index of chunk) {
      if (Math.floor(index / chunkMessagesMax) < chunkNo) {
        const partner = partners[index]!;
        deferred.set(partner, (deferred.get(partner) ?? 0) + 1);
      }
    }
    chunks.push(chunk);
  }
  return { chunks, deferred };
}

/**
 * Tracks which batch positions are done and how far the batch can be committed: up to the first
 * position not yet processed (offset order), never past a gap.
 */
export class CommitFrontier {
  private readonly done: boolean[];
  private frontier = 0;

  constructor(size: number) {
    this.done = new Array<boolean>(size).fill(false);
  }

  /** Marks positions done; returns how many leading positions are now all done. */
  complete(indices: readonly number[]): number {
    for (const index of indices) this.done[index] = true;
    while (this.frontier < this.done.length && this.done[this.frontier]) this.frontier++;
    return this.frontier;
  }
}
