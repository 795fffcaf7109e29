/** The items of a batch write, a key given twice keeping its last item (stores that write one key at a time). */
export function lastPerKey<T extends { key: string }>(items: readonly T[]): T[] {
  return [...new Map(items.map((item) => [item.key, item])).values()]
}
