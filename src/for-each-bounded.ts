// Bounded parallelism for uploads and downloads: an object store wants several
// transfers in flight, a local disk does not mind, and an unbounded number of
// open files would.

/**
 * Runs `fn` over `items`, at most `limit` at a time. Stops starting new items
 * after the first failure (or when `shouldStop` says so) and waits for the
 * running ones before rejecting with that first failure.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (failure === undefined && !shouldStop() && next < items.length) {
      const item = items[next++]!
      try {
        await fn(item)
      } catch (e) {
        failure ??= { error: e }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  if (failure !== undefined) throw failure.error
}
