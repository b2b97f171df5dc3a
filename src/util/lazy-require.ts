/*
 * A CommonJS package loaded on first use instead of at start-up: for packages only some deployments or some requests
 * need (Redis, a provider's SDK), whose loading would otherwise be paid by every start. Synchronous, so the code
 * that uses one keeps its shape; the module is the one `import` would give (Node shares one CommonJS cache).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `load()` returns the package's exports, requiring it the first time. */
export function lazyRequire<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}
