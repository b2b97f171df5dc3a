/**
 * A function's results by key, all forgotten at once when `max` keys are held: for hot lookups over a small,
 * slowly changing set (upstream URLs, provider keys, repeated prompt texts), where an LRU's bookkeeping would
 * cost more than the occasional recomputation. A call that throws caches nothing.
 */
export function boundedMemo<K, V>(compute: (key: K) => V, max = 1000): (key: K) => V {
  const cache = new Map<K, V>();
  return (key) => {
    let v = cache.get(key);
    if (v === undefined && !cache.has(key)) {
      v = compute(key);
      if (cache.size >= max) cache.clear();
      cache.set(key, v);
    }
    return v as V;
  };
}
