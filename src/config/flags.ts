/**
 * The command-line and environment vocabulary (one table, so flags, variables and `--help` cannot
 * drift apart) and the argv parser. Values come out as raw strings tagged with the flag the user
 * typed; `load.ts` validates them together with every other source.
 */
import { DEFAULTS } from '../defaults.js'
import type { ConfigProblem } from '../errors.js'
import { HS2_POLICIES, LOG_LEVELS } from './types.js'

/** A setting that can come from a flag or an environment variable. */
export type Setting = 'config' | 'hs2' | 'hs2Listen' | 'hs2Policy' | 'connectTimeoutMs' | 'logLevel' | 'shutdownGraceMs'

/** A raw value plus where the user wrote it, in their words: `--hs2-policy`, `hs2[1].policy (in /x.yaml)`. */
export interface Sourced {
  value: unknown
  key: string
}

export type SettingValues = Partial<Record<Setting, Sourced>>

export interface SettingSpec {
  setting: Setting
  flag: string
  env: string
  arg: string
  help: string
  default?: string
}

const { hs2: HS2 } = DEFAULTS

export const SETTINGS: readonly SettingSpec[] = [
  {
    setting: 'hs2', flag: '--hs2', env: 'HIVE_HA_PROXY_HS2', arg: '<jdbc-url>',
    help: 'JDBC URL of the HS2 instances (ZooKeeper discovery or a host:port list)',
  },
  {
    setting: 'hs2Listen', flag: '--hs2-listen', env: 'HIVE_HA_PROXY_HS2_LISTEN', arg: '<host:port>',
    help: 'where clients connect; [::1]:port for IPv6, a bare port means 127.0.0.1',
    default: `${HS2.listen.host}:${HS2.listen.port}`,
  },
  {
    setting: 'hs2Policy', flag: '--hs2-policy', env: 'HIVE_HA_PROXY_HS2_POLICY', arg: '<policy>',
    help: HS2_POLICIES.join(' | '), default: HS2.policy,
  },
  {
    setting: 'connectTimeoutMs', flag: '--connect-timeout', env: 'HIVE_HA_PROXY_CONNECT_TIMEOUT_MS', arg: '<ms>',
    help: 'one TCP connect to an HS2 instance', default: String(HS2.connectTimeoutMs),
  },
  {
    setting: 'config', flag: '--config', env: 'HIVE_HA_PROXY_CONFIG', arg: '<file.yaml>',
    help: 'YAML config file (format below)',
  },
  {
    setting: 'logLevel', flag: '--log-level', env: 'HIVE_HA_PROXY_LOG_LEVEL', arg: '<level>',
    help: LOG_LEVELS.join(' | '), default: DEFAULTS.logLevel,
  },
  {
    setting: 'shutdownGraceMs', flag: '--shutdown-grace', env: 'HIVE_HA_PROXY_SHUTDOWN_GRACE_MS', arg: '<ms>',
    help: 'on SIGTERM/SIGINT, live connections get this long before being cut',
    default: String(DEFAULTS.shutdownGraceMs),
  },
]

const HELP_FLAGS = ['--help', '-h']
const VERSION_FLAGS = ['--version', '-V']
const ALL_FLAGS = [...SETTINGS.map((s) => s.flag), ...HELP_FLAGS, ...VERSION_FLAGS]

function optionLines(): string[] {
  return SETTINGS.flatMap((s) => [
    `  ${`${s.flag} ${s.arg}`.padEnd(30)}${s.env}`,
    `      ${s.help}${s.default === undefined ? '' : ` (default ${s.default})`}`,
  ])
}

function note(line: string, comment: string): string {
  return `${line.padEnd(32)}# ${comment}`
}

export const EXAMPLE_URL = 'jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hiveserver2'

export const HELP_TEXT = [
  'Usage: hive-ha-proxy --hs2 <jdbc-url> [options]',
  '       hive-ha-proxy --config <file.yaml> [options]',
  '',
  'One fixed HiveServer2 endpoint that routes to the HS2 instances of a JDBC URL, e.g.',
  `  ${EXAMPLE_URL}`,
  '',
  'Options (flag, then environment variable):',
  ...optionLines(),
  `  ${'-h, --help'.padEnd(30)}print this text`,
  `  ${'-V, --version'.padEnd(30)}print the version`,
  '',
  'Flags take "--flag value" or "--flag=value". Sources, later wins: built-in defaults <',
  '--config file (or HIVE_HA_PROXY_CONFIG) < HIVE_HA_PROXY_* variables < flags. Empty variables',
  'count as unset; unknown HIVE_HA_PROXY_* variables are errors. Policies and log levels are',
  'case-insensitive.',
  '--hs2, --hs2-listen, --hs2-policy and --connect-timeout (and their variables) set the FIRST',
  'HS2 route, hs2[0]: they override its fields when the config file declares routes, and create',
  'it when it does not. Further routes exist only in the config file.',
  '',
  'Config file (YAML; every key is optional except each route\'s url; defaults shown):',
  `  logLevel: ${DEFAULTS.logLevel}`,
  `  shutdownGraceMs: ${DEFAULTS.shutdownGraceMs}`,
  `  zookeeper: { sessionTimeoutMs: ${DEFAULTS.zookeeper.sessionTimeoutMs}, reconnectWatchdogMs: ${DEFAULTS.zookeeper.reconnectWatchdogMs} }`,
  note('  hs2:', 'a list of routes; a single mapping is one route'),
  note('    - name: hs2', 'default hs2, hs2-2, hs2-3 ...; unique'),
  `      url: "${EXAMPLE_URL}"`,
  note(`      listen: ${HS2.listen.host}:${HS2.listen.port}`, 'unique per route'),
  `      policy: ${HS2.policy}`,
  `      connectTimeoutMs: ${HS2.connectTimeoutMs}`,
  `      maxConnectAttempts: ${HS2.maxConnectAttempts}`,
  note(`      idleTimeoutMs: ${HS2.idleTimeoutMs}`, '0 = never close idle connections'),
  `      ejection: { failures: ${HS2.ejection.failures}, baseMs: ${HS2.ejection.baseMs}, maxMs: ${HS2.ejection.maxMs} }`,
  '',
].join('\n')

export interface ParsedArgs {
  help: boolean
  version: boolean
  values: SettingValues
  problems: ConfigProblem[]
}

/** Parse argv (without node and script). Never throws: every mistake becomes a problem keyed by the flag. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { help: false, version: false, values: {}, problems: [] }
  const seen = new Set<string>()
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? ''
    const eq = token.startsWith('--') ? token.indexOf('=') : -1
    const name = eq === -1 ? token : token.slice(0, eq)
    const inline = eq === -1 ? undefined : token.slice(eq + 1)
    const spec = SETTINGS.find((s) => s.flag === name)
    if (spec !== undefined) {
      // A value is never taken from the next token when that token is itself a flag: `--hs2 --help`
      // is a missing value, not a URL named "--help".
      const takeNext = inline === undefined && i + 1 < argv.length && !looksLikeFlag(argv[i + 1] ?? '')
      const value = inline ?? (takeNext ? argv[++i] : undefined)
      takeValue(out, seen, spec, value)
    } else if (HELP_FLAGS.includes(name) || VERSION_FLAGS.includes(name)) {
      if (inline !== undefined) out.problems.push(problem(name, 'takes no value', `write just ${name}`))
      else if (HELP_FLAGS.includes(name)) out.help = true
      else out.version = true
    } else {
      out.problems.push(unexpected(token, name))
      // An unknown `--flag value` most likely takes a value: skip it rather than report it too.
      if (token.startsWith('--') && inline === undefined && i + 1 < argv.length && !looksLikeFlag(argv[i + 1] ?? '')) i++
    }
  }
  return out
}

function takeValue(out: ParsedArgs, seen: Set<string>, spec: SettingSpec, value: string | undefined): void {
  if (seen.has(spec.flag)) {
    out.problems.push(problem(spec.flag, 'given more than once', `keep only one ${spec.flag}`))
    return
  }
  seen.add(spec.flag)
  if (value === undefined || value === '') {
    out.problems.push(problem(spec.flag, 'needs a value', `write ${spec.flag} ${spec.arg} or ${spec.flag}=${spec.arg}`))
    return
  }
  out.values[spec.setting] = { value, key: spec.flag }
}

function looksLikeFlag(token: string): boolean {
  return token.startsWith('--') || HELP_FLAGS.includes(token) || VERSION_FLAGS.includes(token)
}

function unexpected(token: string, name: string): ConfigProblem {
  if (!token.startsWith('-')) {
    const fix = token.startsWith('jdbc:') ? `write --hs2 ${token}` : 'every setting is a flag (--flag value); see --help'
    return problem(token, 'unexpected argument', fix)
  }
  const guess = nearest(name, ALL_FLAGS)
  return problem(name, 'unknown flag', guess === undefined ? 'see --help for the flags' : `did you mean ${guess}? (see --help)`)
}

function problem(key: string, message: string, fix: string): ConfigProblem {
  return { key, message, fix }
}

/**
 * The candidate closest to `word` (case, `-` and `_` ignored; then edit distance at most 2, or a
 * third of the word), or undefined when nothing is close enough to be a plausible typo.
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '')
  const limit = Math.max(2, Math.floor(word.length / 3))
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    const d = norm(c) === norm(word) ? 0 : editDistance(word.toLowerCase(), c.toLowerCase())
    if (d < bestDistance) [best, bestDistance] = [c, d]
  }
  return bestDistance <= limit ? best : undefined
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost)
    }
    prev = row
  }
  return prev[b.length] ?? 0
}
