import { loadConfig, type LoadDeps } from '../../src/config/load.js'
import { ConfigError } from '../../src/errors.js'
import type { ProxyConfig } from '../../src/config/types.js'

export type Env = Record<string, string | undefined>

/** LoadDeps over an in-memory file system holding `files`; any other path fails like ENOENT. */
export function memDeps(
  argv: string[],
  env: Env = {},
  files: Record<string, string> = {},
): LoadDeps {
  return {
    argv,
    env,
    readFile(path) {
      const text = files[path]
      if (text !== undefined) return text
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), {
        code: 'ENOENT',
      })
    },
  }
}

/** loadConfig that must produce a configuration to run. */
export function runConfig(d: LoadDeps): { config: ProxyConfig; sources: string[] } {
  const cmd = loadConfig(d)
  if (cmd.kind !== 'run') throw new Error(`expected run, got ${cmd.kind}`)
  return cmd
}

/** loadConfig that must fail with a ConfigError. */
export function configErrorOf(d: LoadDeps): ConfigError {
  try {
    loadConfig(d)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

export const hp = (l: { host: string; port: number }): string => `${l.host}:${l.port}`
