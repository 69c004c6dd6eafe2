/**
 * `HIVE_HA_PROXY_*` environment variables -> raw settings tagged with the variable name. The caller
 * passes the environment in (nothing here reads `process.env`), so tests inject a plain object.
 */
import type { ConfigProblem } from '../errors.js'
import { nearest, SETTINGS, type SettingValues } from './flags.js'

export const ENV_PREFIX = 'HIVE_HA_PROXY_'

export interface EnvSettings {
  values: SettingValues
  problems: ConfigProblem[]
}

/**
 * Empty strings count as unset (shells and compose files often export `VAR=`). An unknown variable
 * with the prefix is a problem: it is almost always a typo that would otherwise be silently ignored.
 */
export function readEnv(env: Readonly<Record<string, string | undefined>>): EnvSettings {
  const out: EnvSettings = { values: {}, problems: [] }
  const known = SETTINGS.map((s) => s.env)
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined || value === '') continue
    const spec = SETTINGS.find((s) => s.env === name)
    if (spec !== undefined) {
      out.values[spec.setting] = { value, key: name }
      continue
    }
    const guess = nearest(name, known)
    out.problems.push({
      key: name,
      message: 'unknown variable',
      fix:
        guess === undefined
          ? `unset it; known variables: ${known.join(', ')}`
          : `did you mean ${guess}?`,
    })
  }
  return out
}
