/**
 * The command-line and environment vocabulary (one table, so flags, variables and `--help` cannot
 * drift apart) and the argv parser. Values come out as raw strings tagged with the flag the user
 * typed; `load.ts` validates them together with every other source.
 */
import { DEFAULTS } from '../defaults.js'
import type { ConfigProblem } from '../errors.js'
import { HS2_POLICIES, LOG_FORMATS, LOG_LEVELS, METASTORE_SELECTIONS } from './types.js'

/** A setting that can come from a flag or an environment variable. */
export type Setting =
  | 'config'
  | 'hiveSite'
  | 'hs2'
  | 'hs2Listen'
  | 'hs2Policy'
  | 'connectTimeoutMs'
  | 'firstResponseTimeoutMs'
  | 'metastore'
  | 'metastoreListen'
  | 'metastoreSelection'
  | 'hs2TlsCert'
  | 'hs2TlsKey'
  | 'metastoreTlsCert'
  | 'metastoreTlsKey'
  | 'logLevel'
  | 'logFormat'
  | 'shutdownGraceMs'
  | 'adminListen'
  | 'adminToken'
  | 'zookeeperDigestAuth'

/** A raw value plus where the user wrote it, in their words: `--hs2-policy`, `hs2[1].policy (in /x.yaml)`. */
export interface Sourced {
  value: unknown
  key: string
}

export type SettingValues = Partial<Record<Setting, Sourced>>

export interface SettingSpec {
  setting: Setting
  /** undefined: a variable only (a secret must not appear on a command line, where `ps` shows it) */
  flag: string | undefined
  env: string
  arg: string
  help: string
  default?: string
}

const { hs2: HS2, metastore: HMS } = DEFAULTS

export const EXAMPLE_URL =
  'jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hiveserver2'
export const EXAMPLE_METASTORE_URIS = 'thrift://hms1:9083,thrift://hms2:9083'

export const SETTINGS: readonly SettingSpec[] = [
  {
    setting: 'hs2',
    flag: '--hs2',
    env: 'HIVE_HA_PROXY_HS2',
    arg: '<jdbc-url>',
    help: 'JDBC URL of the HS2 instances (ZooKeeper discovery or a host:port list)',
  },
  {
    setting: 'hs2Listen',
    flag: '--hs2-listen',
    env: 'HIVE_HA_PROXY_HS2_LISTEN',
    arg: '<host:port>',
    help: 'clients connect here ([::1]:port for IPv6); alone: the hive-site route',
    default: `${HS2.listen.host}:${HS2.listen.port}`,
  },
  {
    setting: 'hs2Policy',
    flag: '--hs2-policy',
    env: 'HIVE_HA_PROXY_HS2_POLICY',
    arg: '<policy>',
    help: HS2_POLICIES.join(' | '),
    default: HS2.policy,
  },
  {
    setting: 'connectTimeoutMs',
    flag: '--connect-timeout',
    env: 'HIVE_HA_PROXY_CONNECT_TIMEOUT_MS',
    arg: '<ms>',
    help: 'one TCP connect to an HS2 instance',
    default: String(HS2.connectTimeoutMs),
  },
  {
    setting: 'firstResponseTimeoutMs',
    flag: '--first-response-timeout',
    env: 'HIVE_HA_PROXY_FIRST_RESPONSE_TIMEOUT_MS',
    arg: '<ms>',
    help: 'HS2 silent this long is hung (binary: handshake moves; http: per call); 0 = off',
    default: String(HS2.firstResponseTimeoutMs),
  },
  {
    setting: 'metastore',
    flag: '--metastore',
    env: 'HIVE_HA_PROXY_METASTORE',
    arg: '<uri-list>',
    help: `metastore URIs as in hive.metastore.uris: ${EXAMPLE_METASTORE_URIS} (port required)`,
  },
  {
    setting: 'metastoreListen',
    flag: '--metastore-listen',
    env: 'HIVE_HA_PROXY_METASTORE_LISTEN',
    arg: '<host:port>',
    help: 'where metastore clients connect; same forms as --hs2-listen',
    default: `${HMS.listen.host}:${HMS.listen.port}`,
  },
  {
    setting: 'metastoreSelection',
    flag: '--metastore-selection',
    env: 'HIVE_HA_PROXY_METASTORE_SELECTION',
    arg: '<selection>',
    help: `${METASTORE_SELECTIONS.join(' | ')}, as hive.metastore.uri.selection`,
    default: HMS.selection,
  },
  {
    setting: 'hs2TlsCert',
    flag: '--hs2-tls-cert',
    env: 'HIVE_HA_PROXY_HS2_TLS_CERT',
    arg: '<cert.pem>',
    help: "HS2 clients connect with TLS: the proxy's certificate (PEM, chain allowed)",
  },
  {
    setting: 'hs2TlsKey',
    flag: '--hs2-tls-key',
    env: 'HIVE_HA_PROXY_HS2_TLS_KEY',
    arg: '<key.pem>',
    help: 'the private key of --hs2-tls-cert (PEM; keep it mode 600)',
  },
  {
    setting: 'metastoreTlsCert',
    flag: '--metastore-tls-cert',
    env: 'HIVE_HA_PROXY_METASTORE_TLS_CERT',
    arg: '<cert.pem>',
    help: "metastore clients connect with TLS: the proxy's certificate (PEM)",
  },
  {
    setting: 'metastoreTlsKey',
    flag: '--metastore-tls-key',
    env: 'HIVE_HA_PROXY_METASTORE_TLS_KEY',
    arg: '<key.pem>',
    help: 'the private key of --metastore-tls-cert (PEM; keep it mode 600)',
  },
  {
    setting: 'hiveSite',
    flag: '--hive-site',
    env: 'HIVE_HA_PROXY_HIVE_SITE',
    arg: '<hive-site.xml>',
    help: 'read the first metastore route (and, when asked, an HS2 route) from a hive-site.xml (keys below)',
  },
  {
    setting: 'config',
    flag: '--config',
    env: 'HIVE_HA_PROXY_CONFIG',
    arg: '<file.yaml>',
    help: 'YAML config file (format below)',
  },
  {
    setting: 'logLevel',
    flag: '--log-level',
    env: 'HIVE_HA_PROXY_LOG_LEVEL',
    arg: '<level>',
    help: LOG_LEVELS.join(' | '),
    default: DEFAULTS.logLevel,
  },
  {
    setting: 'logFormat',
    flag: '--log-format',
    env: 'HIVE_HA_PROXY_LOG_FORMAT',
    arg: '<format>',
    help: `${LOG_FORMATS.join(' | ')}; auto = readable lines on a terminal, JSON lines otherwise`,
    default: DEFAULTS.logFormat,
  },
  {
    setting: 'shutdownGraceMs',
    flag: '--shutdown-grace',
    env: 'HIVE_HA_PROXY_SHUTDOWN_GRACE_MS',
    arg: '<ms>',
    help: 'on SIGTERM/SIGINT, live connections get this long before being cut',
    default: String(DEFAULTS.shutdownGraceMs),
  },
  {
    setting: 'adminListen',
    flag: '--admin-listen',
    env: 'HIVE_HA_PROXY_ADMIN_LISTEN',
    arg: '<host:port>',
    help: 'the admin HTTP API; same forms as --hs2-listen; off loopback it needs a token',
    default: `${DEFAULTS.admin.listen.host}:${DEFAULTS.admin.listen.port}`,
  },
  {
    setting: 'adminToken',
    flag: undefined,
    env: 'HIVE_HA_PROXY_ADMIN_TOKEN',
    arg: '<token>',
    help: 'admin API bearer token, >= 16 characters; no flag on purpose (ps shows command lines)',
  },
  {
    setting: 'zookeeperDigestAuth',
    flag: undefined,
    env: 'HIVE_HA_PROXY_ZOOKEEPER_DIGEST_AUTH',
    arg: '<user:password>',
    help: 'ZooKeeper digest authentication; drain marks become writable only by it; no flag on purpose',
  },
]

const HELP_FLAGS = ['--help', '-h']
const VERSION_FLAGS = ['--version', '-V']
const ALL_FLAGS = [
  ...SETTINGS.flatMap((s) => (s.flag === undefined ? [] : [s.flag])),
  ...HELP_FLAGS,
  ...VERSION_FLAGS,
]

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
    const spec = SETTINGS.find((s) => s.flag !== undefined && s.flag === name)
    if (spec?.flag !== undefined) {
      // A value is never taken from the next token when that token is itself a flag: `--hs2 --help`
      // is a missing value, not a URL named "--help".
      const takeNext =
        inline === undefined && i + 1 < argv.length && !looksLikeFlag(argv[i + 1] ?? '')
      const value = inline ?? (takeNext ? argv[++i] : undefined)
      takeValue(out, seen, { ...spec, flag: spec.flag }, value)
    } else if (HELP_FLAGS.includes(name) || VERSION_FLAGS.includes(name)) {
      if (inline !== undefined)
        out.problems.push(problem(name, 'takes no value', `write just ${name}`))
      else if (HELP_FLAGS.includes(name)) out.help = true
      else out.version = true
    } else {
      out.problems.push(unexpected(token, name))
      // An unknown `--flag value` most likely takes a value: skip it rather than report it too.
      if (
        token.startsWith('--') &&
        inline === undefined &&
        i + 1 < argv.length &&
        !looksLikeFlag(argv[i + 1] ?? '')
      )
        i++
    }
  }
  return out
}

function takeValue(
  out: ParsedArgs,
  seen: Set<string>,
  spec: SettingSpec & { flag: string },
  value: string | undefined,
): void {
  if (seen.has(spec.flag)) {
    out.problems.push(problem(spec.flag, 'given more than once', `keep only one ${spec.flag}`))
    return
  }
  seen.add(spec.flag)
  if (value === undefined || value === '') {
    out.problems.push(
      problem(
        spec.flag,
        'needs a value',
        `write ${spec.flag} ${spec.arg} or ${spec.flag}=${spec.arg}`,
      ),
    )
    return
  }
  out.values[spec.setting] = { value, key: spec.flag }
}

function looksLikeFlag(token: string): boolean {
  return token.startsWith('--') || HELP_FLAGS.includes(token) || VERSION_FLAGS.includes(token)
}

function unexpected(token: string, name: string): ConfigProblem {
  if (!token.startsWith('-')) {
    const fix = token.startsWith('jdbc:')
      ? `write --hs2 ${token}`
      : /^thrift:\/\//i.test(token)
        ? `write --metastore ${token}`
        : 'every setting is a flag (--flag value); see --help'
    return problem(token, 'unexpected argument', fix)
  }
  const envOnly = SETTINGS.find((s) => s.flag === undefined && name === `--${kebab(s.setting)}`)
  if (envOnly !== undefined) {
    return problem(
      name,
      'is deliberately not a flag: command lines are visible to every local user (ps)',
      `set ${envOnly.env} instead`,
    )
  }
  const guess = nearest(name, ALL_FLAGS)
  return problem(
    name,
    'unknown flag',
    guess === undefined ? 'see --help for the flags' : `did you mean ${guess}? (see --help)`,
  )
}

function kebab(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
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
