/** How much each of `counts` (a module's counters, such as `hashCounts`) grew while `body` ran. */
export async function countsDuring<T extends Record<string, number>>(counts: T, body: () => Promise<void>): Promise<T> {
  const before = { ...counts };
  await body();
  return Object.fromEntries(Object.entries(counts).map(([name, value]) => [name, value - before[name]!])) as T;
}
