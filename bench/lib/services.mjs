// The processes a benchmark run talks to: bench backends, haproxy, a real ZooKeeper and the
// hive-ha-proxy CLI as users run it. Everything binds 127.0.0.1.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import zookeeper from 'node-zookeeper-client'
import { run, start, waitLine } from './procs.mjs'

export const HOST = '127.0.0.1'

/** ports this process handed out: the kernel may give a closed probe's port again at once */
const handedOut = new Set()

/**
 * A free loopback port, never one this process handed out before (two routes of one config file
 * once got the same port, and the proxy refused the config).
 */
export async function freePort() {
  for (let i = 0; i < 100; i++) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer()
      s.once('error', reject)
      s.listen(0, HOST, () => {
        const { port } = s.address()
        s.close(() => resolve(port))
      })
    })
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('no free loopback port that was not handed out already (100 tries)')
}

/** Resolves when `port` accepts a TCP connection; rejects after `ms`. */
export async function waitPort(port, ms = 10_000) {
  const deadline = Date.now() + ms
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, HOST)
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on ${HOST}:${port} after ${ms} ms`)
    await sleep(20)
  }
}

// ---------------------------------------------------------------------------------------------
// Backends

/** A bench/backend.mjs process; resolves { proc, ports } (ports in the order of `listeners`). */
export async function startBackend(root, name, listeners, { pin } = {}) {
  const p = start(
    name,
    process.execPath,
    [join(root, 'bench/backend.mjs'), JSON.stringify({ listeners })],
    { ulimit: true, pin },
  )
  const line = await waitLine(p, /^\{"ports"/, 10_000, 'ports line')
  return { proc: p, ports: JSON.parse(line).ports }
}

/** bench/naive-proxy.mjs, the naive net.Socket reference: `fronts` = [{ servers: [port, ...] }]; resolves { proc, ports }. */
export async function startNaiveProxy(root, name, fronts) {
  const p = start(
    name,
    process.execPath,
    [join(root, 'bench/naive-proxy.mjs'), JSON.stringify({ fronts })],
    { ulimit: true },
  )
  const line = await waitLine(p, /^\{"ports"/, 10_000, 'ports line')
  return { proc: p, ports: JSON.parse(line).ports }
}

/** bench/http-backend.mjs: `n` HTTP-mode HS2 stubs on /`path`; resolves { proc, ports }. */
export async function startHttpBackend(root, name, n, path) {
  const p = start(
    name,
    process.execPath,
    [join(root, 'bench/http-backend.mjs'), JSON.stringify({ listeners: n, path })],
    { ulimit: true },
  )
  const line = await waitLine(p, /^\{"ports"/, 10_000, 'ports line')
  return { proc: p, ports: JSON.parse(line).ports }
}

// ---------------------------------------------------------------------------------------------
// Tools from Debian: installed when missing and root, else the reason and the command to run

const isRoot = () => process.getuid?.() === 0

async function aptInstall(pkg) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const r = await run(
    'bash',
    [
      '-c',
      `apt-get install -y ${pkg} >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && apt-get install -y ${pkg} >/dev/null 2>&1)`,
    ],
    { ms: 300_000, env },
  )
  return r.code === 0
}

const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy']
/** The haproxy binary, installing the Debian package when missing and root; else { missing: reason }. */
export async function ensureHaproxy(log) {
  const found = () => HAPROXY.find((p) => existsSync(p))
  if (found()) return { bin: found() }
  if (!isRoot())
    return { missing: 'haproxy is not installed; install it with: sudo apt-get install -y haproxy' }
  log('haproxy missing: apt-get install -y haproxy ...')
  if ((await aptInstall('haproxy')) && found()) return { bin: found() }
  return { missing: 'haproxy is not installed and apt-get install -y haproxy failed' }
}

export const ZK_JAR = '/usr/share/java/zookeeper.jar'
/** java + ZooKeeper's jar (Debian's zookeeper package), installed when missing and root. */
export async function ensureZookeeper(log) {
  const java = async () => (await run('java', ['-version'], { ms: 20_000 })).code === 0
  if (existsSync(ZK_JAR) && (await java())) return {}
  if (!isRoot())
    return {
      missing:
        'ZooKeeper is not installed; install it with: sudo apt-get install -y zookeeper (it brings java)',
    }
  log('ZooKeeper missing: apt-get install -y zookeeper ...')
  if ((await aptInstall('zookeeper')) && existsSync(ZK_JAR) && (await java())) return {}
  return { missing: 'ZooKeeper is not installed and apt-get install -y zookeeper failed' }
}

// ---------------------------------------------------------------------------------------------
// haproxy (mode tcp, one thread like Node, foreground)

/**
 * `fronts`: [{ name, port, servers: [port, ...] }]. Resolves the process once every front listens.
 */
export async function startHaproxy(bin, dir, name, fronts, { maxconn = 4000 } = {}) {
  const cfg = [
    'global',
    '  nbthread 1',
    `  maxconn ${maxconn}`,
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    '',
  ]
  for (const f of fronts) {
    // f.tls: { pem (certificate + key), ca, name }: TLS on bind and to the servers, checked for `name`
    const bindTls = f.tls ? ` ssl crt ${f.tls.pem}` : ''
    const serverTls = f.tls
      ? ` ssl verify required ca-file ${f.tls.ca} sni str(${f.tls.name}) verifyhost ${f.tls.name}`
      : ''
    cfg.push(
      `frontend f_${f.name}`,
      `  bind ${HOST}:${f.port}${bindTls}`,
      `  default_backend b_${f.name}`,
      '',
    )
    cfg.push(`backend b_${f.name}`, '  balance roundrobin')
    for (const [i, port] of f.servers.entries())
      cfg.push(`  server s${i} ${HOST}:${port}${serverTls}`)
    cfg.push('')
  }
  const file = join(dir, `${name}.cfg`)
  writeFileSync(file, cfg.join('\n'))
  const p = start(name, bin, ['-db', '-f', file], { ulimit: true })
  for (const f of fronts) await waitPort(f.port)
  return p
}

/**
 * haproxy in `mode http` (one thread, keep-alive on both sides) in front of `servers`, sticky by
 * its own inserted cookie (`cookie SRV insert indirect nocache`): what a gateway without Thrift
 * awareness does for HiveServer2 over HTTP. Resolves the process once the front listens.
 */
export async function startHaproxyHttp(bin, dir, name, { port, servers }) {
  const cfg = [
    'global',
    '  nbthread 1',
    '  maxconn 4000',
    '',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout http-keep-alive 1h',
    '',
    `frontend f_${name}`,
    `  bind ${HOST}:${port}`,
    `  default_backend b_${name}`,
    '',
    `backend b_${name}`,
    '  balance roundrobin',
    '  cookie SRV insert indirect nocache',
    ...servers.map((p, i) => `  server s${i} ${HOST}:${p} cookie s${i}`),
    '',
  ]
  const file = join(dir, `${name}.cfg`)
  writeFileSync(file, cfg.join('\n'))
  const p = start(name, bin, ['-db', '-f', file], { ulimit: true })
  await waitPort(port)
  return p
}

// ---------------------------------------------------------------------------------------------
// ZooKeeper (test-env.md §1.2)

function fourLetter(port, cmd) {
  return new Promise((resolve) => {
    const s = net.connect(port, HOST)
    let out = ''
    s.setTimeout(1000, () => s.destroy())
    s.on('connect', () => s.write(cmd))
    s.on('data', (d) => (out += d))
    s.on('close', () => resolve(out))
    s.on('error', () => resolve(''))
  })
}

/** Packets the ZooKeeper server has received so far (from `srvr`). */
export async function zkReceived(port) {
  const m = /Received: (\d+)/.exec(await fourLetter(port, 'srvr'))
  return m ? Number(m[1]) : NaN
}

export async function startZk(dir) {
  const port = await freePort()
  const zdir = join(dir, 'zk')
  mkdirSync(zdir, { recursive: true })
  const cfg = join(zdir, 'zoo.cfg')
  writeFileSync(
    cfg,
    [
      'tickTime=500',
      `dataDir=${join(zdir, 'data')}`,
      `clientPort=${port}`,
      `clientPortAddress=${HOST}`,
      'admin.enableServer=false',
      'minSessionTimeout=1000',
      'maxSessionTimeout=60000',
      '4lw.commands.whitelist=srvr,ruok,mntr',
      '',
    ].join('\n'),
  )
  const proc = start('zookeeper', 'java', [
    '-Xmx128m',
    '-Dzookeeper.admin.enableServer=false',
    '-cp',
    ZK_JAR,
    'org.apache.zookeeper.server.ZooKeeperServerMain',
    cfg,
  ])
  const deadline = Date.now() + 20_000
  while (!(await fourLetter(port, 'srvr')).includes('Mode: ')) {
    if (proc.exited || Date.now() > deadline)
      throw new Error(`ZooKeeper did not start:\n${proc.lines.slice(-10).join('\n')}`)
    await sleep(25)
  }
  return { proc, port }
}

/** A ZooKeeper session of the benchmark itself (it owns the bench's HS2 registrations). */
export async function zkClient(port) {
  const c = zookeeper.createClient(`${HOST}:${port}`, {
    sessionTimeout: 10_000,
    spinDelay: 200,
    retries: 0,
  })
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('ZooKeeper connect timed out')), 10_000)
    c.once('connected', () => {
      clearTimeout(t)
      resolve()
    })
    c.connect()
  })
  const cb = (fn) =>
    new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))))
  return {
    mkdirp: (path) => cb((k) => c.mkdirp(path, k)),
    /** EPHEMERAL_SEQUENTIAL `serverUri=...` child with HiveServer2's data format; resolves its path */
    registerHs2: (ns, port) => {
      const uri = `${HOST}:${port}`
      const data = [
        `hive.server2.instance.uri=${uri}`,
        'hive.server2.authentication=NONE',
        'hive.server2.transport.mode=binary',
        `hive.server2.thrift.bind.host=${HOST}`,
        `hive.server2.thrift.port=${port}`,
        'hive.server2.thrift.sasl.qop=auth',
        'hive.server2.use.SSL=false',
      ].join(';')
      return cb((k) =>
        c.create(
          `/${ns}/serverUri=${uri};version=4.0.0;sequence=`,
          Buffer.from(data),
          zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
          k,
        ),
      )
    },
    remove: (path) => cb((k) => c.remove(path, -1, k)),
    close: () => c.close(),
  }
}

// ---------------------------------------------------------------------------------------------
// hive-ha-proxy, as users run it: node bin/hive-ha-proxy --config <yaml>

let adminFlag
/** Whether this build has an admin API (then every proxy gets its own admin port). */
async function hasAdmin(root) {
  if (adminFlag === undefined) {
    const r = await run(process.execPath, [join(root, 'bin/hive-ha-proxy'), '--help'], {
      ms: 20_000,
    })
    adminFlag = r.stdout.includes('--admin-listen')
  }
  return adminFlag
}

/**
 * `hs2` / `metastore`: route objects as in the YAML config file (listen as a port number).
 * Resolves { proc, ports: { <route name>: port }, admin: the admin API's port } once every route listens and every ZooKeeper
 * route has done its first read.
 */
export async function startProxy(
  root,
  dir,
  name,
  { hs2 = [], metastore = [], zookeeper: zk, ulimit = true, pin, env } = {},
) {
  const y = []
  y.push('logLevel: info', 'shutdownGraceMs: 500') // info: readiness is read from the log
  if (zk) y.push(`zookeeper: { sessionTimeoutMs: ${zk.sessionTimeoutMs ?? 10000} }`)
  const route = (r) => {
    const lines = Object.entries(r).map(
      ([k, v]) =>
        `    ${k}: ${typeof v === 'string' ? JSON.stringify(v) : k === 'listen' ? `${HOST}:${v}` : JSON.stringify(v)}`,
    )
    lines[0] = `  - ${lines[0].trimStart()}`
    return lines
  }
  if (hs2.length > 0) y.push('hs2:', ...hs2.flatMap(route))
  if (metastore.length > 0) y.push('metastore:', ...metastore.flatMap(route))
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, `${y.join('\n')}\n`)
  const args = [join(root, 'bin/hive-ha-proxy'), '--config', file]
  const admin = (await hasAdmin(root)) ? await freePort() : undefined
  if (admin !== undefined) args.push('--admin-listen', `${HOST}:${admin}`)
  const p = start(name, process.execPath, args, { ulimit, pin, cwd: root, env })
  const routes = [...hs2, ...metastore]
  const zkRoutes = routes.filter((r) => /zooKeeper|discovery/i.test(JSON.stringify(r)))
  const ready = async (r) => {
    await waitLine(
      p,
      new RegExp(
        `"route":"${r.name}".*"msg":"route listening"|"msg":"route listening".*"route":"${r.name}"`,
      ),
      20_000,
      `route ${r.name} listening`,
    )
  }
  const readZk = async (r) => {
    await waitLine(
      p,
      new RegExp(`"route":"${r.name}".*route ready|route ready.*"route":"${r.name}"`),
      20_000,
      `route ${r.name} ready`,
    )
  }
  await Promise.all([...routes.map(ready), ...zkRoutes.map(readZk)])
  return { proc: p, ports: Object.fromEntries(routes.map((r) => [r.name, r.listen])), admin }
}
