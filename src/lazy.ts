import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/**
 * A dependency loaded on first use, synchronously, instead of at start-up: for packages only some
 * configurations need (the YAML reader with --config, the XML reader with --hive-site, the
 * ZooKeeper client with ZooKeeper routes, pino-pretty on a terminal). Each costs 40-110 ms and a few
 * MiB to load, which a sidecar with one static route would pay for nothing.
 *
 * Contract: `id` is a package with a CommonJS entry (`require` condition); the first call loads
 * it and may throw what `require` throws; later calls return the same module. A bundler leaves
 * these calls alone (the `require` here is a local), so they stay lazy in a bundled build too.
 */
export function lazy<T>(id: string): () => T {
  let mod: T | undefined
  return () => {
    if (mod === undefined) mod = require(id) as T
    return mod
  }
}
