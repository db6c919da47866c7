// Which completed checkpoints to keep. "Newest" means the highest id: ids
// grow with trigger time, so the highest id holds the most recent state even
// when checkpoints complete out of order.

/**
 * The checkpoints to drop from `completedIds` so that the newest
 * `retainedCheckpoints` remain. `protectedIds` are never dropped (a claimed
 * checkpoint the job was restored from, until a newer one completes).
 */
export function checkpointsToSubsume(
  completedIds: readonly number[],
  retainedCheckpoints: number,
  protectedIds: ReadonlySet<number> = new Set(),
): number[] {
  const newestFirst = [...completedIds].sort((a, b) => b - a)
  return newestFirst.slice(retainedCheckpoints).filter((id) => !protectedIds.has(id)).sort((a, b) => a - b)
}

/** Whether a checkpoint completing now would be dropped at once: `retainedCheckpoints` newer ones are already complete. */
export function wouldBeSubsumed(checkpointId: number, completedIds: readonly number[], retainedCheckpoints: number): boolean {
  return completedIds.filter((id) => id > checkpointId).length >= retainedCheckpoints
}
