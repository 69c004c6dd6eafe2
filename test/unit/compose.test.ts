import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseDocument } from 'yaml'
import { loadConfig, type CliCommand } from '../../src/config/load.js'
import { ConfigError, type ConfigProblem } from '../../src/errors.js'

// No Docker engine runs on CI, so docker-compose.yml and the Dockerfile are checked statically:
// what they declare, and that the proxy's command line is accepted by the CLI's own parser. Whether
// the images start and the cluster answers is checked by hand (README, "Try it with Docker").

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8')

// ---- the files, parsed --------------------------------------------------------------------------

type Mapping = Record<string, unknown>
const isMapping = (v: unknown): v is Mapping =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const mapping = (v: unknown): Mapping => (isMapping(v) ? v : {})
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const strings = (v: unknown): string[] => list(v).map(String)

const composeDoc = parseDocument(read('docker-compose.yml'), {
  uniqueKeys: true,
  prettyErrors: true,
})
const compose = mapping(composeDoc.toJS())
const services = mapping(compose.services)
const service = (name: string): Mapping => mapping(services[name])
const env = (name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(mapping(service(name).environment)).map(([k, v]) => [k, String(v)]),
  )

/** The official apache/hive image's services, by role (its entrypoint's SERVICE_NAME). */
const hiveServices = Object.keys(services).filter((s) =>
  String(service(s).image ?? '').startsWith('apache/hive:'),
)
const metastores = hiveServices.filter((s) => env(s).SERVICE_NAME === 'metastore')
const hs2s = hiveServices.filter((s) => env(s).SERVICE_NAME === 'hiveserver2')

/**
 * Every Hive property the compose file may set, spelled as Hive spells it, with where that spelling
 * was taken from. A `-D` key not listed here is a failure: a misspelt key is silently ignored by
 * Hive, which would leave e.g. service discovery off and the proxy with nothing to route to.
 */
const HIVE_PROPERTIES: Record<string, string> = {
  'hive.server2.support.dynamic.service.discovery': 'hive-ha-semantics.md §2.1',
  'hive.zookeeper.quorum': 'hive-ha-semantics.md §2.1',
  'hive.zookeeper.client.port': 'hive-ha-semantics.md §2.1',
  'hive.server2.zookeeper.namespace': 'hive-ha-semantics.md §2.1',
  'hive.server2.zookeeper.publish.configs': 'hive-ha-semantics.md §2.1',
  'hive.server2.thrift.bind.host': 'hive-ha-semantics.md §2.1',
  'hive.server2.thrift.port': 'hive-ha-semantics.md §2.1',
  'hive.server2.transport.mode': 'hive-ha-semantics.md §2.1',
  'hive.metastore.uris': 'hive-ha-semantics.md §4.1',
  'hive.metastore.uri.selection': 'hive-ha-semantics.md §4.1',
  'metastore.thrift.port': 'hive-ha-semantics.md §4.1',
  'javax.jdo.option.ConnectionDriverName': 'apache/hive packaging/src/docker/README.md',
  'javax.jdo.option.ConnectionURL': 'apache/hive packaging/src/docker/README.md',
  'javax.jdo.option.ConnectionUserName': 'apache/hive packaging/src/docker/README.md',
  'javax.jdo.option.ConnectionPassword': 'apache/hive packaging/src/docker/README.md',
}

/** SERVICE_OPTS -> its `-Dkey=value` system properties; anything else in it is reported. */
function serviceOpts(name: string): { props: Map<string, string>; problems: string[] } {
  const props = new Map<string, string>()
  const problems: string[] = []
  for (const token of (env(name).SERVICE_OPTS ?? '').split(/\s+/).filter(Boolean)) {
    const m = /^-D([^=\s]+)=(\S*)$/.exec(token)
    if (m === null) {
      if (!/^-X/.test(token))
        problems.push(`${name}: "${token}" is neither -Dkey=value nor a -X JVM option`)
      continue
    }
    const [, key = '', value = ''] = m
    if (props.has(key)) problems.push(`${name}: -D${key} given twice`)
    props.set(key, value)
  }
  return { props, problems }
}
const prop = (name: string, key: string): string | undefined => serviceOpts(name).props.get(key)

interface DockerInstruction {
  op: string
  args: string
  line: number
}

/** Dockerfile -> instructions (continuations joined, comments and blank lines dropped). */
function parseDockerfile(text: string): DockerInstruction[] {
  const out: DockerInstruction[] = []
  let buf = ''
  let start = 0
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd()
    if (buf === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return
    if (buf !== '' && line.trimStart().startsWith('#')) return // comment inside a continuation
    if (buf === '') start = i + 1
    buf += (buf === '' ? '' : ' ') + line.replace(/\\$/, '').trim()
    if (line.endsWith('\\')) return
    const m = /^(\S+)\s*(.*)$/.exec(buf)
    if (m !== null) out.push({ op: (m[1] ?? '').toUpperCase(), args: m[2] ?? '', line: start })
    buf = ''
  })
  return out
}

const dockerfile = parseDockerfile(read('Dockerfile'))
/** instructions grouped by stage (each starts with its FROM) */
const stages: DockerInstruction[][] = []
for (const ins of dockerfile) {
  if (ins.op === 'FROM') stages.push([ins])
  else stages.at(-1)?.push(ins)
}
const finalStage = stages.at(-1) ?? []

/** `image:tag` with a version in the tag (never `latest`), or an `@sha256:` digest. */
function pinned(ref: string): boolean {
  if (/^[a-z0-9][a-z0-9._/-]*@sha256:[0-9a-f]{64}$/.test(ref)) return true
  const m = /^([a-z0-9][a-z0-9._/-]*):([A-Za-z0-9._-]+)$/.exec(ref)
  return m !== null && m[2] !== 'latest' && /\d/.test(m[2] ?? '')
}

// ---- compose: services, images, ports -----------------------------------------------------------

const EXPECTED_SERVICES = ['hms1', 'hms2', 'hs2a', 'hs2b', 'postgres', 'proxy', 'zookeeper']

t.test('docker-compose.yml parses as YAML without duplicate keys', async (t) => {
  t.same(
    composeDoc.errors.map((e) => e.message),
    [],
    'no YAML errors',
  )
  t.same(
    composeDoc.warnings.map((w) => w.message),
    [],
    'no YAML warnings',
  )
})

/** `docker compose` (v2) or `docker-compose` (v1), if this machine has one; neither needs an engine for `config`. */
function composeCli(): string[] | undefined {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const r = spawnSync(cmd[0] ?? '', [...cmd.slice(1), 'version'], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    if (r.status === 0) return cmd
  }
  return undefined
}

const cli = composeCli()
t.test(
  'Compose itself validates the file, when a Compose CLI is installed',
  {
    skip:
      cli === undefined
        ? 'neither `docker compose` nor `docker-compose` is installed: schema check skipped'
        : false,
  },
  async (t) => {
    if (cli === undefined) return
    const r = spawnSync(
      cli[0] ?? '',
      [...cli.slice(1), '-f', resolve(ROOT, 'docker-compose.yml'), 'config', '-q'],
      {
        encoding: 'utf8',
        timeout: 60_000,
        cwd: ROOT,
      },
    )
    t.equal(
      r.status,
      0,
      `${cli.join(' ')} config -q accepts docker-compose.yml${r.stderr ? `: ${r.stderr.trim()}` : ''}`,
    )
  },
)

t.test(
  'the services: ZooKeeper, PostgreSQL, two metastores, two HiveServer2, the proxy',
  async (t) => {
    t.same(Object.keys(services).sort(), EXPECTED_SERVICES)
    t.same(metastores.sort(), ['hms1', 'hms2'], 'apache/hive services with SERVICE_NAME=metastore')
    t.same(hs2s.sort(), ['hs2a', 'hs2b'], 'apache/hive services with SERVICE_NAME=hiveserver2')
    t.same(
      hiveServices.sort(),
      [...metastores, ...hs2s].sort(),
      'every apache/hive service is a metastore or an HS2',
    )
    for (const s of hiveServices)
      t.equal(env(s).DB_DRIVER ?? 'postgres', 'postgres', `${s}: DB_DRIVER`)
  },
)

t.test('every image is pinned to a version; the proxy is built from this repository', async (t) => {
  for (const [name, raw] of Object.entries(services)) {
    const svc = mapping(raw)
    if (name === 'proxy') {
      t.equal(svc.build, '.', 'proxy: build: . (the Dockerfile in this repository)')
      t.notOk('image' in svc, 'proxy: no image: the build is the image')
      continue
    }
    const image = String(svc.image ?? '')
    t.ok(pinned(image), `${name}: image "${image}" is pinned (a tag with a version, not latest)`)
  }
  t.match(service('zookeeper').image, /^zookeeper:3\.\d+\.\d+$/, 'ZooKeeper 3.x.y')
  t.match(service('postgres').image, /^postgres:16\.\d+$/, 'PostgreSQL 16.x')
  const hiveImages = new Set(hiveServices.map((s) => service(s).image))
  t.same(
    [...hiveImages],
    ['apache/hive:4.0.1'],
    'one Hive 4 image, the official one, for all four Hive services',
  )
})

/** `[ip:]host:container[/proto]` short syntax only (what this file uses). */
function publishedPorts(
  name: string,
): { ip: string | undefined; host: number; container: number }[] {
  return strings(service(name).ports).map((p) => {
    const m = /^(?:(\d+\.\d+\.\d+\.\d+):)?(\d+):(\d+)(?:\/tcp)?$/.exec(p)
    if (m === null) return { ip: `unparsed "${p}"`, host: NaN, container: NaN }
    return { ip: m[1], host: Number(m[2]), container: Number(m[3]) }
  })
}

t.test('only the proxy publishes ports, each on 127.0.0.1 of the host', async (t) => {
  for (const name of Object.keys(services)) {
    if (name === 'proxy') continue
    t.same(
      publishedPorts(name),
      [],
      `${name}: no published ports (reach it through the proxy or docker compose exec)`,
    )
  }
  t.same(
    publishedPorts('proxy').sort((a, b) => a.container - b.container),
    [
      { ip: '127.0.0.1', host: 9083, container: 9083 },
      { ip: '127.0.0.1', host: 10000, container: 10000 },
      { ip: '127.0.0.1', host: 10090, container: 10090 },
    ],
    'proxy: 10000 (HS2), 9083 (metastore), 10090 (admin), loopback-only on the host',
  )
})

// ---- compose: health and start order -----------------------------------------------------------

t.test('every service has a healthcheck', async (t) => {
  for (const name of Object.keys(services)) {
    const hc = mapping(service(name).healthcheck)
    const test = strings(hc.test)
    t.ok(
      test[0] === 'CMD' || test[0] === 'CMD-SHELL',
      `${name}: healthcheck.test is [CMD|CMD-SHELL, ...] (got ${JSON.stringify(hc.test)})`,
    )
    t.ok(test.length >= 2, `${name}: healthcheck has a command`)
    t.not(hc.disable, true, `${name}: healthcheck not disabled`)
    for (const k of ['interval', 'timeout', 'retries'])
      t.ok(k in hc, `${name}: healthcheck.${k} set`)
  }
})

const healthcheckText = (name: string): string =>
  strings(mapping(service(name).healthcheck).test)
    .slice(1)
    .join(' ')

t.test('the Hive healthchecks probe the port each service really listens on', async (t) => {
  for (const s of metastores) {
    t.match(
      healthcheckText(s),
      /\/dev\/tcp\/(127\.0\.0\.1|localhost)\/9083\b/,
      `${s}: probes its metastore port 9083`,
    )
  }
  for (const s of hs2s) {
    // HS2 binds its Thrift port to hive.server2.thrift.bind.host only: localhost would be refused
    const host = prop(s, 'hive.server2.thrift.bind.host') ?? '(unset)'
    const port = prop(s, 'hive.server2.thrift.port') ?? '10000'
    t.ok(
      healthcheckText(s).includes(`/dev/tcp/${host}/${port}`),
      `${s}: probes ${host}:${port} (got ${healthcheckText(s)})`,
    )
  }
})

const CONDITIONS = ['service_healthy', 'service_completed_successfully']

function dependsOn(name: string): Map<string, string> {
  const raw = service(name).depends_on
  const out = new Map<string, string>()
  if (raw === undefined) return out
  // the short list form means service_started: not enough for `docker compose up --wait`
  for (const [dep, spec] of Object.entries(mapping(raw)))
    out.set(dep, String(mapping(spec).condition))
  if (Array.isArray(raw)) for (const dep of raw) out.set(String(dep), 'service_started (list form)')
  return out
}

t.test('depends_on: existing services, health conditions, no cycle', async (t) => {
  for (const name of Object.keys(services)) {
    for (const [dep, condition] of dependsOn(name)) {
      t.ok(dep in services, `${name} -> ${dep}: exists`)
      t.ok(
        CONDITIONS.includes(condition),
        `${name} -> ${dep}: condition ${condition} is one of ${CONDITIONS.join(', ')}`,
      )
    }
  }
  const order: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (n: string, path: string[]): void => {
    if (state.get(n) === 'done') return
    if (state.get(n) === 'visiting') {
      t.fail(`dependency cycle: ${[...path, n].join(' -> ')}`)
      return
    }
    state.set(n, 'visiting')
    for (const dep of dependsOn(n).keys()) visit(dep, [...path, n])
    state.set(n, 'done')
    order.push(n)
  }
  for (const n of Object.keys(services)) visit(n, [])
  t.equal(order.at(-1), 'proxy', 'the proxy starts last')
})

t.test(
  'start order: database, schema once, metastores, ZooKeeper, then HS2, then the proxy',
  async (t) => {
    const healthy = (from: string, to: string): void => {
      t.equal(dependsOn(from).get(to), 'service_healthy', `${from} waits for ${to} to be healthy`)
    }
    for (const s of metastores) healthy(s, 'postgres')
    for (const s of hs2s) {
      healthy(s, 'zookeeper')
      for (const m of metastores) healthy(s, m)
    }
    // the proxy comes up last, so `docker compose up --wait` returns with everything answering
    for (const s of ['zookeeper', ...metastores, ...hs2s]) healthy('proxy', s)
  },
)

t.test(
  'the metastore schema is initialised once, by one metastore, before the others start',
  async (t) => {
    // the image's entrypoint runs schematool unless IS_RESUME=true, whatever SERVICE_NAME is
    const initialisers = hiveServices.filter((s) => env(s).IS_RESUME !== 'true')
    t.equal(
      initialisers.length,
      1,
      `exactly one Hive service runs schematool (got ${initialisers.join(', ') || 'none'})`,
    )
    const [init] = initialisers
    t.ok(
      init !== undefined && metastores.includes(init),
      `the one running schematool is a metastore (${init})`,
    )
    for (const s of hs2s)
      t.equal(env(s).IS_RESUME, 'true', `${s}: IS_RESUME=true (an HS2 must never run schematool)`)
    for (const s of metastores.filter((m) => m !== init)) {
      t.equal(
        dependsOn(s).get(init ?? ''),
        'service_healthy',
        `${s} starts after ${init} is healthy, i.e. after the schema exists`,
      )
    }
  },
)

// ---- compose: Hive settings -------------------------------------------------------------------

t.test('every -D property is one Hive knows, spelled as Hive spells it', async (t) => {
  for (const s of hiveServices) {
    const { props, problems } = serviceOpts(s)
    t.same(problems, [], `${s}: SERVICE_OPTS holds only -Dkey=value and -X options`)
    for (const key of props.keys()) {
      const close = Object.keys(HIVE_PROPERTIES).find((k) => k.toLowerCase() === key.toLowerCase())
      t.ok(
        key in HIVE_PROPERTIES,
        `${s}: -D${key} is a known Hive property${close !== undefined && close !== key ? ` (Hive spells it ${close})` : ''}`,
      )
    }
  }
})

t.test(
  'HiveServer2: ZooKeeper discovery on, in one namespace, publishing a resolvable host',
  async (t) => {
    for (const s of hs2s) {
      t.equal(
        prop(s, 'hive.server2.support.dynamic.service.discovery'),
        'true',
        `${s}: dynamic service discovery on`,
      )
      t.equal(
        prop(s, 'hive.zookeeper.quorum'),
        'zookeeper:2181',
        `${s}: quorum is the zookeeper service`,
      )
      t.equal(prop(s, 'hive.server2.zookeeper.namespace'), 'hiveserver2', `${s}: namespace`)
      t.equal(
        prop(s, 'hive.metastore.uris'),
        'thrift://hms1:9083,thrift://hms2:9083',
        `${s}: both metastores`,
      )
      // HS2 publishes the canonical name of its bind address: the hostname, resolvable by service name
      t.equal(
        prop(s, 'hive.server2.thrift.bind.host'),
        s,
        `${s}: binds to (and publishes) its service name`,
      )
      t.equal(
        service(s).hostname,
        s,
        `${s}: hostname is the service name, so its address resolves back to it`,
      )
    }
  },
)

t.test('the metastores share one database, the postgres service', async (t) => {
  const pg = env('postgres')
  const wantUrl = `jdbc:postgresql://postgres:5432/${pg.POSTGRES_DB}`
  for (const s of metastores) {
    t.equal(service(s).hostname, s, `${s}: hostname is the service name`)
    t.equal(env(s).DB_DRIVER, 'postgres', `${s}: DB_DRIVER=postgres (schematool -dbType)`)
    t.equal(prop(s, 'javax.jdo.option.ConnectionURL'), wantUrl, `${s}: ConnectionURL`)
    t.equal(
      prop(s, 'javax.jdo.option.ConnectionDriverName'),
      'org.postgresql.Driver',
      `${s}: driver class`,
    )
    t.equal(prop(s, 'javax.jdo.option.ConnectionUserName'), pg.POSTGRES_USER, `${s}: database user`)
    t.equal(
      prop(s, 'javax.jdo.option.ConnectionPassword'),
      pg.POSTGRES_PASSWORD,
      `${s}: database password`,
    )
  }
})

t.test(
  'the JDBC driver is mounted from docker/lib/, which git ignores; data is in named volumes',
  async (t) => {
    const ignore = read('docker/lib/.gitignore')
      .split('\n')
      .map((l) => l.trim())
    t.ok(
      ignore.includes('*') || ignore.includes('*.jar'),
      'docker/lib/.gitignore keeps the jar out of git',
    )
    for (const s of metastores) {
      const jar = list(service(s).volumes)
        .map(mapping)
        .find((v) => String(v.target ?? '').startsWith('/opt/hive/lib/'))
      t.ok(jar !== undefined, `${s}: a driver jar mounted into /opt/hive/lib/`)
      if (jar === undefined) continue
      t.equal(
        jar.type,
        'bind',
        `${s}: long-syntax bind (a missing file is an error, not an empty directory)`,
      )
      t.match(jar.source, /^\.\/docker\/lib\/[^/]+\.jar$/, `${s}: source in docker/lib/`)
      t.equal(jar.read_only, true, `${s}: read-only`)
    }
    const declared = Object.keys(mapping(compose.volumes))
    for (const s of Object.keys(services)) {
      for (const v of list(service(s).volumes).filter((x): x is string => typeof x === 'string')) {
        const source = v.split(':')[0] ?? ''
        if (!source.startsWith('.') && !source.startsWith('/'))
          t.ok(declared.includes(source), `${s}: volume ${source} is declared`)
      }
    }
    for (const s of hiveServices) {
      t.ok(
        strings(service(s).volumes).includes('warehouse:/opt/hive/data/warehouse'),
        `${s}: shares the warehouse volume`,
      )
    }
  },
)

// ---- compose: the proxy's command line, through the CLI's own parser ----------------------------

/**
 * Not yet accepted by the option parser while the admin issue is open; tolerated ONLY as "unknown"
 * and only while `--admin-listen` itself is unknown, so this test turns strict once the flag exists.
 */
const PENDING_FLAG = '--admin-listen'
const PENDING_VARIABLE = 'HIVE_HA_PROXY_ADMIN_TOKEN'

const proxyArgv = strings(service('proxy').command)
const proxyEnv = env('proxy')
const noFile = (path: string): string => {
  throw new Error(`the compose command reads no file (asked for ${path})`)
}

function load(argv: string[], variables: Record<string, string>): CliCommand | ConfigError {
  try {
    return loadConfig({ argv, env: variables, readFile: noFile })
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
}

function withoutFlag(argv: string[], flag: string): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ''
    if (a === flag) i++
    else if (!a.startsWith(`${flag}=`)) out.push(a)
  }
  return out
}

/**
 * The proxy's command and environment as the CLI sees them; pending items skipped with a comment.
 * `strict`: nothing was skipped.
 */
function loadProxy(t: Test): { cmd: CliCommand; strict: boolean } | undefined {
  const first = load(proxyArgv, proxyEnv)
  if (!(first instanceof ConfigError)) return { cmd: first, strict: true }
  const flagPending = first.problems.some(
    (p) => p.key === PENDING_FLAG && /unknown flag/.test(p.message),
  )
  const pending = (p: ConfigProblem): boolean =>
    flagPending &&
    ((p.key === PENDING_FLAG && /unknown flag/.test(p.message)) ||
      (p.key === PENDING_VARIABLE && /unknown variable/.test(p.message)))
  const real = first.problems.filter((p) => !pending(p))
  t.same(
    real.map((p) => `${p.key}: ${p.message}`),
    [],
    'the proxy command and environment have no configuration problem',
  )
  if (!flagPending || real.length > 0) return undefined
  const skipped = [...new Set(first.problems.filter(pending).map((p) => p.key))].join(' and ')
  t.comment(`${skipped} skipped: not known to the option parser yet, pending the admin API issue`)
  const variables = Object.fromEntries(
    Object.entries(proxyEnv).filter(([k]) => k !== PENDING_VARIABLE),
  )
  const second = load(withoutFlag(proxyArgv, PENDING_FLAG), variables)
  if (second instanceof ConfigError) {
    t.fail(`still invalid without ${PENDING_FLAG}: ${second.message}`)
    return undefined
  }
  return { cmd: second, strict: false }
}

/** `--flag value` or `--flag=value` from the compose command */
function flagValue(flag: string): string | undefined {
  for (let i = 0; i < proxyArgv.length; i++) {
    const a = proxyArgv[i] ?? ''
    if (a === flag) return proxyArgv[i + 1]
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1)
  }
  return undefined
}

t.test('the proxy command line is accepted by loadConfig and matches the cluster', async (t) => {
  t.ok(proxyArgv.length > 0, 'proxy: command is a list (exec form: the JDBC URL keeps its ;)')
  const loaded = loadProxy(t)
  if (loaded === undefined) return
  const { cmd, strict } = loaded
  t.equal(cmd.kind, 'run', 'a run command, not help or version')
  if (cmd.kind !== 'run') return
  const { config } = cmd
  t.equal(config.hs2.length, 1, 'one HS2 route')
  t.equal(config.metastore.length, 1, 'one metastore route')
  const hs2 = config.hs2[0]
  const hms = config.metastore[0]
  if (hs2 === undefined || hms === undefined) return

  t.same(
    hs2.listen,
    { host: '0.0.0.0', port: 10000 },
    'HS2 front on 0.0.0.0:10000 (loopback would be unreachable from the host)',
  )
  t.same(hms.listen, { host: '0.0.0.0', port: 9083 }, 'metastore front on 0.0.0.0:9083')
  const namespaces = new Set(hs2s.map((s) => prop(s, 'hive.server2.zookeeper.namespace')))
  const quorums = new Set(hs2s.map((s) => prop(s, 'hive.zookeeper.quorum')))
  t.same(
    hs2.target,
    { kind: 'zookeeper', quorum: [...quorums][0], namespace: [...namespaces][0] },
    'the JDBC URL discovers the HS2s: their quorum and namespace',
  )
  const hs2Uris = new Set(hs2s.map((s) => prop(s, 'hive.metastore.uris')))
  t.same(
    [...hs2Uris],
    [flagValue('--metastore')],
    'the proxy and the HS2s list the same metastores',
  )
  t.same(
    hms.target,
    { kind: 'static', backends: metastores.map((m) => ({ host: m, port: 9083 })) },
    'the metastore route lists both metastore services, in order',
  )

  const admin = (
    config as { admin?: { listen: { host: string; port: number }; token: string | undefined } }
  ).admin
  if (strict) {
    t.ok(admin !== undefined, 'the config has an admin section')
    t.same(admin?.listen, { host: '0.0.0.0', port: 10090 }, 'admin API on 0.0.0.0:10090')
    t.equal(admin?.token, proxyEnv[PENDING_VARIABLE], 'admin token from HIVE_HA_PROXY_ADMIN_TOKEN')
  }
  const containerPorts = publishedPorts('proxy')
    .map((p) => p.container)
    .sort()
  const adminPort = Number((flagValue(PENDING_FLAG) ?? '').split(':').at(-1))
  t.same(
    containerPorts,
    [hs2.listen.port, hms.listen.port, adminPort].sort(),
    'published ports are the ports the proxy listens on',
  )
})

t.test('the demo admin token is clearly fake and long enough', async (t) => {
  const token = proxyEnv[PENDING_VARIABLE] ?? ''
  t.match(token, /demo/, 'the token says it is a demo value')
  t.ok(token.length >= 16, 'at least 16 characters')
  t.notOk(
    proxyArgv.some((a) => a.includes(token)),
    'the token is not on the command line (visible in ps)',
  )
})

t.test(
  'the proxy healthcheck asks /healthz on the admin port, as the Dockerfile does',
  async (t) => {
    const adminPort = (flagValue(PENDING_FLAG) ?? '').split(':').at(-1)
    t.ok(
      healthcheckText('proxy').includes(`http://127.0.0.1:${adminPort}/healthz`),
      `compose: GET 127.0.0.1:${adminPort}/healthz`,
    )
    const hc = finalStage.find((i) => i.op === 'HEALTHCHECK')
    const json = /\bCMD\s+(\[.*\])\s*$/.exec(hc?.args ?? '')?.[1]
    t.same(
      json === undefined ? undefined : JSON.parse(json),
      strings(mapping(service('proxy').healthcheck).test).slice(1),
      'Dockerfile HEALTHCHECK and compose healthcheck run the same command',
    )
  },
)

// ---- Dockerfile -------------------------------------------------------------------------------

/** the majors of package.json's `engines.node` ("^22.12.0 || ^24.0.0 || ^26.0.0" -> 22, 24, 26) */
const ENGINES_NODE = [
  ...String(mapping(mapping(JSON.parse(read('package.json'))).engines).node).matchAll(/\^(\d+)\./g),
].map((m) => Number(m[1]))

t.test('Dockerfile: multi-stage, pinned bases, production dependencies only', async (t) => {
  t.ok(stages.length >= 2, `at least two FROM stages (got ${stages.length})`)
  const names: string[] = []
  for (const stage of stages) {
    const from = stage[0]?.args ?? ''
    const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(from)
    const image = m?.[1] ?? ''
    t.ok(pinned(image), `FROM ${image} is pinned`)
    t.match(image, /^node:(\d+)\.\d+/, `FROM ${image}: node with a minor version`)
    t.ok(
      ENGINES_NODE.includes(Number(/^node:(\d+)/.exec(image)?.[1])),
      `FROM ${image} is one of the supported lines in engines.node (${ENGINES_NODE.join(', ')})`,
    )
    if (m?.[2] !== undefined) names.push(m[2])
  }
  const build = stages.slice(0, -1).flat()
  const runs = build
    .filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join(' ')
  t.match(runs, /\bnpm ci\b/, 'a build stage runs npm ci (prepare builds dist/)')
  t.match(runs, /\bnpm prune --omit=dev\b/, 'then drops the dev dependencies')
  t.notOk(
    finalStage.some((i) => i.op === 'RUN' && /\bnpm (ci|install)\b/.test(i.args)),
    'the runtime stage installs nothing itself',
  )
  const fromBuild = finalStage
    .filter((i) => i.op === 'COPY' && /--from=/.test(i.args))
    .map((i) => i.args)
  for (const dir of ['node_modules', 'dist']) {
    t.ok(
      fromBuild.some((a) =>
        new RegExp(`--from=(${names.slice(0, -1).join('|')})\\s+\\S*${dir}\\b`).test(a),
      ),
      `runtime copies ${dir} from a build stage`,
    )
  }
})

t.test('Dockerfile: non-root user, healthcheck, ports, entrypoint', async (t) => {
  const users = finalStage.filter((i) => i.op === 'USER').map((i) => i.args.split(':')[0] ?? '')
  t.ok(users.length > 0, 'the runtime stage sets USER')
  t.notOk(
    ['root', '0', ''].includes(users.at(-1) ?? ''),
    `runs as a non-root user (${users.at(-1)})`,
  )
  const hc = finalStage.filter((i) => i.op === 'HEALTHCHECK')
  t.equal(hc.length, 1, 'one HEALTHCHECK')
  t.match(hc[0]?.args ?? '', /\/healthz/, 'the healthcheck asks /healthz')
  t.match(hc[0]?.args ?? '', /--timeout=\d+s/, 'with a timeout')
  const exposed = finalStage
    .filter((i) => i.op === 'EXPOSE')
    .flatMap((i) => i.args.split(/\s+/))
    .map((p) => p.replace(/\/tcp$/, ''))
  t.same(exposed.sort(), ['10000', '10090', '9083'], 'EXPOSE 10000 9083 10090')
  const entry = finalStage.filter((i) => i.op === 'ENTRYPOINT').at(-1)?.args ?? ''
  t.same(
    JSON.parse(entry.startsWith('[') ? entry : 'null'),
    ['node', 'bin/hive-ha-proxy'],
    'ENTRYPOINT ["node", "bin/hive-ha-proxy"] (exec form: signals reach node)',
  )
  t.ok(existsSync(resolve(ROOT, 'bin/hive-ha-proxy')), 'bin/hive-ha-proxy exists')
})

/** .dockerignore patterns as regular expressions over context-relative paths (no `!` exceptions). */
function dockerignored(path: string): string | undefined {
  for (const raw of read('.dockerignore').split('\n')) {
    const pattern = raw.trim().replace(/^\/+|\/+$/g, '')
    if (pattern === '' || pattern.startsWith('#')) continue
    const re = new RegExp(
      `^${pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*')}(/.*)?$`,
    )
    if (re.test(path)) return pattern
  }
  return undefined
}

t.test('Dockerfile: every COPY source exists and is not excluded by .dockerignore', async (t) => {
  t.equal(
    dockerignored('node_modules'),
    'node_modules',
    '.dockerignore keeps the local node_modules out',
  )
  t.equal(
    dockerignored('dist'),
    'dist',
    '.dockerignore keeps the local dist out (the image builds its own)',
  )
  t.equal(
    dockerignored('docker/lib/postgresql.jar') !== undefined,
    true,
    '.dockerignore keeps the JDBC jar out',
  )
  for (const ins of dockerfile.filter((i) => i.op === 'COPY' && !/--from=/.test(i.args))) {
    const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'))
    for (const src of parts.slice(0, -1)) {
      const path = src.replace(/^\.\//, '').replace(/\/$/, '')
      t.ok(existsSync(resolve(ROOT, path)), `line ${ins.line}: COPY ${src} exists`)
      t.equal(
        dockerignored(path),
        undefined,
        `line ${ins.line}: COPY ${src} is in the build context`,
      )
    }
  }
})

// ---- README -------------------------------------------------------------------------------------

t.test("README 'Try it with Docker' names real services and the compose values", async (t) => {
  const readme = read('README.md')
  const start = readme.indexOf('\n## Try it with Docker')
  t.ok(start >= 0, 'README has the section')
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end === -1 ? undefined : end)
  t.match(section, /docker compose up --wait/, 'starts with docker compose up --wait')
  t.match(
    section,
    /beeline -u ['"]?jdbc:hive2:\/\/localhost:10000\//,
    'connects beeline to the proxy',
  )
  t.match(section, /curl[^\n]*localhost:10090\/routes/, 'shows /routes')
  t.ok(
    section.includes(proxyEnv[PENDING_VARIABLE] ?? '(no token)'),
    'uses the token from docker-compose.yml',
  )
  const named = [
    ...section.matchAll(
      /docker compose (?:exec|stop|start|kill|restart|logs|pause|unpause)(?:\s+-\S+)*\s+([a-z0-9-]+)/g,
    ),
  ].map((m) => m[1] ?? '')
  t.ok(named.length > 0, 'names services in docker compose commands')
  for (const s of new Set(named))
    t.ok(s in services, `docker compose ... ${s}: a service of docker-compose.yml`)
})
