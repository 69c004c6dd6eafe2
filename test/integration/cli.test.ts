import t, { type Test } from 'tap'
import net from 'node:net'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { freePort, startZk } from '../helpers/zk.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { startHs2Stub } from '../helpers/hs2-stub.js'
import { registerHs2 } from '../helpers/hs2-register.js'
import { queryBackendId } from '../helpers/hive-client.js'
import { waitFor } from '../helpers/proxy.js'
import { startHmsStub } from '../helpers/hms-stub.js'
import { startHs2HttpStub } from '../helpers/hs2-http-stub.js'
import { HttpHiveSession } from '../helpers/hive-http-client.js'
import { connectHms } from '../helpers/hms-client.js'
import { copyFileSync, existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import tls from 'node:tls'
import { makeCa } from '../helpers/certs.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// The real executable, as users run it (npm test builds dist/ first).
const BIN = fileURLToPath(new URL('../../bin/hive-ha-proxy', import.meta.url))

interface Run {
  proc: ChildProcess
  lines: Record<string, unknown>[]
  stderr: () => string
  exit: Promise<number | null>
}

/**
 * `ulimit`: run under bash's `ulimit` with these arguments (`-v 4000000`, `-n 40`);
 * `node`: options for node itself, before the script (V8 flags are not allowed in NODE_OPTIONS);
 * `untraced`: without the NODE_OPTIONS tap adds to every child (its process tracing, which itself
 * needs process.binding)
 */
function run(
  t: Test,
  args: string[],
  env: Record<string, string> = {},
  {
    ulimit,
    node = [],
    untraced = false,
  }: { ulimit?: string; node?: string[]; untraced?: boolean } = {},
): Run {
  // every spawned proxy gets its own admin port unless the test sets one
  const keep =
    args[0] === 'status' ||
    args[0] === 'check' ||
    args.includes('--help') ||
    args.includes('--version') ||
    args.some((a) => a.startsWith('--admin-listen'))
  const argv = keep ? args : [...args, '--admin-listen', '127.0.0.1:0']
  const cmd =
    ulimit === undefined
      ? [
          ...(untraced ? ['env', '-u', 'NODE_OPTIONS'] : []),
          process.execPath,
          ...node,
          BIN,
          ...argv,
        ]
      : [
          'bash',
          '-c',
          `ulimit ${ulimit} && exec "$@"`,
          'bash',
          process.execPath,
          ...node,
          BIN,
          ...argv,
        ]
  const proc = spawn(cmd[0] as string, cmd.slice(1), {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Record<string, unknown>[] = []
  let err = ''
  let buf = ''
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        lines.push({ raw: line })
      }
    }
  })
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exit = once(proc, 'exit').then(([code]) => code as number | null)
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  return { proc, lines, stderr: () => err, exit }
}

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })

t.test('bad configuration: every problem reported, exit code 2, nothing listens', async (t) => {
  const port = await freePort()
  const r = run(
    t,
    [
      '--hs2',
      'jdbc:hive2://',
      '--hs2-policy',
      'fastest',
      '--hs2-listen',
      `127.0.0.1:${port}`,
      '--log-level',
      'loud',
    ],
    { HIVE_HA_PROXY_HS2_POLCY: 'random' },
  )
  t.equal(await r.exit, 2)
  const err = r.stderr()
  t.match(err, /invalid configuration \(4 problems\)/)
  for (const key of ['--hs2:', '--hs2-policy:', '--log-level:', 'HIVE_HA_PROXY_HS2_POLCY:'])
    t.ok(err.includes(key), `names ${key}`)
  t.match(err, /fix:/)
  t.ok(await portIsFree(port), 'did not listen')
})

t.test('log format: JSON when piped, readable lines when forced or on a terminal', async (t) => {
  const blocker = net.createServer().listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  // a start that fails at once: the fatal line is written right before exit, so it also shows
  // that the readable format loses nothing at exit
  const args = ['--hs2', 'jdbc:hive2://127.0.0.1:1/', '--hs2-listen', `127.0.0.1:${port}`]

  const piped = run(t, args)
  t.equal(await piped.exit, 1)
  t.ok(
    piped.lines.some((l) => l.msg === 'cannot start' && l.level === 'fatal'),
    'piped: JSON lines',
  )

  const forced = run(t, [...args, '--log-format', 'pretty'])
  t.equal(await forced.exit, 1)
  const raw = forced.lines.map((l) => String(l.raw ?? ''))
  t.ok(
    raw.some((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] FATAL.*cannot start .*HHP_ERR_LISTEN/.test(l)),
    '--log-format pretty: readable lines, even when piped',
  )
  t.notOk(
    forced.lines.some((l) => l.raw === undefined),
    'no JSON line',
  )

  // a real terminal: util-linux's `script` runs the proxy on a pseudo-terminal
  const script = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p))
  if (script === undefined) {
    t.comment('script (util-linux) not installed: the terminal case is not checked')
    return
  }
  const cmd = [process.execPath, BIN, ...args, '--admin-listen', '127.0.0.1:0']
    .map((a) => `'${a}'`)
    .join(' ')
  const tty = spawnSync(script, ['-qec', cmd, '/dev/null'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', TERM: 'dumb', NO_COLOR: '1' },
    timeout: 30_000,
  })
  t.equal(tty.status, 1, 'the proxy exited 1 under the terminal')
  t.match(tty.stdout, /FATAL.*cannot start/, 'auto on a terminal: readable lines')
  t.notMatch(tty.stdout, /"level":"fatal"/, 'not JSON')
})

t.test(
  'check: validates like a start and describes the routes, without listening or connecting',
  async (t) => {
    const [hs2Port, hmsPort, adminPort] = [await freePort(), await freePort(), await freePort()]
    // an unreachable quorum: check must not connect to it
    const url =
      'jdbc:hive2://127.0.0.1:1,127.0.0.2:1/;serviceDiscoveryMode=zooKeeperHA;zooKeeperNamespace=hs2ha'
    const ok = run(
      t,
      [
        'check',
        '--hs2',
        url,
        '--hs2-listen',
        `127.0.0.1:${hs2Port}`,
        '--metastore',
        'thrift://hms1:9083,thrift://hms2:9083',
        '--metastore-listen',
        `${hmsPort}`,
        '--admin-listen',
        `127.0.0.1:${adminPort}`,
      ],
      {
        HIVE_HA_PROXY_ADMIN_TOKEN: 'a-secret-token-0123456789',
        HIVE_HA_PROXY_HS2_POLICY: 'least-connections',
        HIVE_HA_PROXY_ZOOKEEPER_DIGEST_AUTH: 'fleet:zk-secret-pw',
      },
    )
    t.equal(await ok.exit, 0)
    const text = ok.lines.map((l) => l.raw).join('\n')
    t.match(text, /^configuration OK \(sources, later wins: defaults < env < flags\)/)
    t.match(
      text,
      new RegExp(
        `hs2 route "hs2" on 127\\.0\\.0\\.1:${hs2Port}\\n  backends: ZooKeeper 127\\.0\\.0\\.1:1,127\\.0\\.0\\.2:1, active/passive registry of /hs2ha, the leader only; drain marks shared in /hive-ha-proxy/drain/hs2ha`,
      ),
    )
    t.match(text, /policy least-connections; connect timeout 5000 ms, 3 attempts/)
    t.match(
      text,
      new RegExp(
        `metastore route "metastore" on 127\\.0\\.0\\.1:${hmsPort}\\n  backends: fixed list hms1:9083, hms2:9083 \\(in this order\\)`,
      ),
    )
    t.match(text, /admin API on 127\.0\.0\.1:\d+, bearer token set/)
    t.notOk(text.includes('a-secret-token'), 'the token is never printed')
    t.match(text, /; digest auth as fleet \(drain marks writable only by it\)/)
    t.notOk(text.includes('zk-secret-pw'), 'nor the ZooKeeper password')
    for (const p of [hs2Port, hmsPort, adminPort])
      t.ok(await portIsFree(p), `did not listen on ${p}`)

    const bad = run(t, ['check', '--hs2', 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeepr'])
    t.equal(await bad.exit, 2, 'invalid: the configuration exit code')
    t.match(
      bad.stderr(),
      /invalid configuration \(1 problem\)[\s\S]*serviceDiscoveryMode=zooKeepr[\s\S]*fix:/,
    )
  },
)

t.test('--help and --version exit 0', async (t) => {
  const h = run(t, ['--help'])
  t.equal(await h.exit, 0)
  const v = run(t, ['--version'])
  t.equal(await v.exit, 0)
})

t.test('a port already in use: exit code 1 with the address in the log', async (t) => {
  const blocker = net.createServer().listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  const r = run(t, ['--hs2', 'jdbc:hive2://127.0.0.1:1/', '--hs2-listen', `127.0.0.1:${port}`])
  t.equal(await r.exit, 1)
  t.ok(
    r.lines.some(
      (l) =>
        l.msg === 'cannot start' &&
        String(l.err).includes(`127.0.0.1:${port}`) &&
        l.code === 'HHP_ERR_LISTEN',
    ),
  )
})

t.test(
  'end to end through ZooKeeper, then SIGTERM drains live connections and exits 0',
  async (t) => {
    const zk = await startZk()
    t.teardown(() => zk.close())
    const writer = await connectTestZk(zk.connectString)
    t.teardown(() => writer.close())
    const stub = await startHs2Stub({ id: 'cli-a' })
    t.teardown(() => stub.close())
    await registerHs2(writer, 'clins', stub)
    const port = await freePort()
    const url = `jdbc:hive2://${zk.connectString}/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=clins`
    const r = run(t, ['--hs2-listen', `127.0.0.1:${port}`, '--shutdown-grace', '5000'], {
      HIVE_HA_PROXY_HS2: url,
      HIVE_HA_PROXY_LOG_LEVEL: 'debug',
    })
    await waitFor('route ready', () =>
      r.lines.some((l) => l.msg === 'route ready (first discovery read)'),
    )
    t.equal(await queryBackendId({ host: '127.0.0.1', port }), 'cli-a')

    const held = net.connect(port, '127.0.0.1')
    held.on('error', () => {})
    await waitFor(
      'held connection piped',
      () => stub.connections === 2 && stub.activeConnections === 1,
    )
    r.proc.kill('SIGHUP')
    await waitFor('SIGHUP reload logged', () =>
      r.lines.some((l) => l.msg === 'configuration reloaded'),
    )
    t.equal(r.proc.exitCode, null, 'SIGHUP does not end the process')
    t.equal(stub.activeConnections >= 1, true, 'the live connection survived the reload')
    t.equal(
      await queryBackendId({ host: '127.0.0.1', port }),
      'cli-a',
      'still serving after SIGHUP',
    )
    r.proc.kill('SIGTERM')
    await waitFor('draining', () =>
      r.lines.some((l) => l.msg === 'shutting down: not accepting, waiting for live connections'),
    )
    await waitFor('listener closed', () =>
      r.lines.some((l) => l.msg === 'waiting for live connections'),
    )
    const refused = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1')
      c.once('connect', () => {
        c.destroy()
        resolve(false)
      })
      c.once('error', () => resolve(true))
    })
    t.ok(refused, 'new connections are refused while draining')
    await waitFor(
      'only the held connection is left, still piped',
      () => stub.activeConnections === 1,
    )
    t.equal(r.proc.exitCode, null, 'still running while a connection is live')
    held.end()
    t.equal(await r.exit, 0, 'exits 0 once the last connection ended')
  },
)

t.test(
  'SIGTERM with a connection that never ends: cut after the grace period, exit 0',
  async (t) => {
    const stub = await startHs2Stub({ id: 'static-a' })
    t.teardown(() => stub.close())
    const port = await freePort()
    const r = run(t, [
      '--hs2',
      `jdbc:hive2://127.0.0.1:${stub.port}/`,
      '--hs2-listen',
      `127.0.0.1:${port}`,
      '--shutdown-grace',
      '300',
    ])
    await waitFor('ready', () => r.lines.some((l) => l.msg === 'hive-ha-proxy started'))
    const held = net.connect(port, '127.0.0.1')
    held.on('error', () => {})
    await waitFor('piped', () => stub.activeConnections === 1)
    const closed = once(held, 'close')
    const started = Date.now()
    r.proc.kill('SIGTERM')
    await closed
    t.ok(Date.now() - started >= 250, 'the connection was given the grace period')
    t.equal(await r.exit, 0)
  },
)

t.test('both routes in one process: HS2 from a flag, metastores from hive-site.xml', async (t) => {
  const hs2 = await startHs2Stub({ id: 'hs2-a' })
  t.teardown(() => hs2.close())
  const [m1, m2] = [await startHmsStub({ id: 'm1' }), await startHmsStub({ id: 'm2' })]
  t.teardown(() => m1.close())
  t.teardown(() => m2.close())
  const dir = mkdtempSync(join(tmpdir(), 'hhp-site-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const site = join(dir, 'hive-site.xml')
  writeFileSync(
    site,
    `<?xml version="1.0"?>
<configuration>
  <property><name>hive.metastore.uris</name><value>thrift://127.0.0.1:${m1.port},thrift://127.0.0.1:${m2.port}</value></property>
  <property><name>hive.metastore.uri.selection</name><value>SEQUENTIAL</value></property>
</configuration>
`,
  )
  const [hs2Port, hmsPort] = [await freePort(), await freePort()]
  const r = run(t, [
    '--hs2',
    `jdbc:hive2://127.0.0.1:${hs2.port}/`,
    '--hs2-listen',
    `127.0.0.1:${hs2Port}`,
    '--hive-site',
    site,
    '--metastore-listen',
    `127.0.0.1:${hmsPort}`,
  ])
  await waitFor('started', () => r.lines.some((l) => l.msg === 'hive-ha-proxy started'))
  t.equal(await queryBackendId({ host: '127.0.0.1', port: hs2Port }), 'hs2-a')
  const c = await connectHms({ host: '127.0.0.1', port: hmsPort })
  t.equal((await c.getDatabase('default')).description, 'm1')
  await m1.close()
  t.equal(
    (await c.getDatabase('default')).description,
    'm2',
    'failover on the same client connection',
  )
  await c.close()
  r.proc.kill('SIGTERM')
  t.equal(await r.exit, 0)
})

/** the proxy's warning that its metastore scanner runs without WebAssembly, if it logged one */
const noWasmWarning = (r: Run) =>
  r.lines.find(
    (l) => typeof l.msg === 'string' && l.msg.startsWith('Thrift scanner without WebAssembly'),
  )

/** a metastore route through the real executable; `large` checks a large answer through it */
async function metastoreProxy(
  t: Test,
  opts: { ulimit?: string; node?: string[] },
): Promise<{ r: Run; large: () => Promise<void> }> {
  const m = await startHmsStub({ id: 'm1' })
  t.teardown(() => m.close())
  const hmsPort = await freePort()
  const r = run(
    t,
    ['--metastore', `thrift://127.0.0.1:${m.port}`, '--metastore-listen', `127.0.0.1:${hmsPort}`],
    {},
    opts,
  )
  await waitFor('started', () => r.lines.some((l) => l.msg === 'hive-ha-proxy started'), 20_000)
  const large = async () => {
    const c = await connectHms({ host: '127.0.0.1', port: hmsPort })
    t.equal((await c.getPartitions('default', 't', 3000)).length, 3000, 'a large answer')
    await c.close()
  }
  return { r, large }
}

t.test(
  'when WebAssembly memory cannot be had, the metastore route runs on the JavaScript scanner and says why and what to change',
  async (t) => {
    // the scanner's module needs 133 pages of 64 KiB; capped at 16, instantiating fails with the
    // same "Out of memory" as a failed address-space reservation, on every Node line
    const { r, large } = await metastoreProxy(t, { node: ['--wasm-max-mem-pages=16'] })
    const warn = noWasmWarning(r)
    t.match(
      warn,
      { level: 'warn', reason: /memory/i, fix: /--disable-wasm-trap-handler/ },
      `the reason and the fix are logged: ${JSON.stringify(warn)}`,
    )
    await large()
    r.proc.kill('SIGTERM')
    t.equal(await r.exit, 0)
  },
)

const LIMIT = '-v 4000000'

/** whether this Node can instantiate a one-page wasm memory under `ulimit ${limit}` */
function wasmWorksUnder(limit: string): boolean {
  const probe = spawnSync(
    'bash',
    [
      '-c',
      `ulimit ${limit} && exec "$@"`,
      'bash',
      process.execPath,
      '-e',
      'new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([0,97,115,109,1,0,0,0,5,3,1,0,1])))',
    ],
    { encoding: 'utf8' },
  )
  return probe.status === 0
}

t.test(
  'under an address-space limit the metastore route still works, and warns exactly when its WebAssembly is gone',
  async (t) => {
    // wasm memory normally reserves about 10 GiB of (never resident) address space for guard
    // regions, which `ulimit -v 4000000` refuses: Node 22 then cannot instantiate the scanner's
    // module (JavaScript fallback and a warning), while Node 24.19+ and 26 turn the trap handler off
    // at start under such a limit (nodejs/node#62132) and run wasm with inline bound checks (no
    // fallback, no warning). Which one this Node does is asked of the Node itself, under the same
    // limit, so the proxy's warning must match it either way.
    const wasmWorks = wasmWorksUnder(LIMIT)
    t.comment(
      `${process.version} under ulimit ${LIMIT}: wasm memory ${wasmWorks ? 'works' : 'fails'}`,
    )
    const { r, large } = await metastoreProxy(t, { ulimit: LIMIT })
    const warn = noWasmWarning(r)
    if (wasmWorks) t.equal(warn, undefined, 'WebAssembly works here: no warning')
    else
      t.match(
        warn,
        { level: 'warn', reason: /memory/i, fix: /ulimit -v/ },
        `the reason and the fix are logged: ${JSON.stringify(warn)}`,
      )
    await large()
    r.proc.kill('SIGTERM')
    t.equal(await r.exit, 0)
  },
)

t.test(
  'the built command line serves an HS2 HTTP route end to end (its HTTP parser loaded from node_modules)',
  async (t) => {
    const stub = await startHs2HttpStub({ id: 'http-cli' })
    t.teardown(() => stub.close())
    const port = await freePort()
    const r = run(t, [
      '--hs2',
      `jdbc:hive2://127.0.0.1:${stub.port}/;transportMode=http`,
      '--hs2-listen',
      `127.0.0.1:${port}`,
    ])
    await waitFor('started', () => r.lines.some((l) => l.msg === 'hive-ha-proxy started'), 20_000)
    const session = await HttpHiveSession.open({ port })
    t.equal(await session.query(), 'http-cli', 'a query through the proxy reached the stub')
    await session.close()
    t.equal(stub.calls.get('CloseSession'), 1, 'CloseSession reached the stub')
    r.proc.kill('SIGTERM')
    t.equal(await r.exit, 0)
  },
)

t.test(
  'under an address-space limit that refuses WebAssembly memory, an HS2 HTTP route starts and serves (its HTTP parsing needs none)',
  async (t) => {
    const stub = await startHs2HttpStub({ id: 'http-ulimit' })
    t.teardown(() => stub.close())
    const port = await freePort()
    const r = run(
      t,
      [
        '--hs2',
        `jdbc:hive2://127.0.0.1:${stub.port}/;transportMode=http`,
        '--hs2-listen',
        `127.0.0.1:${port}`,
      ],
      {},
      { ulimit: LIMIT },
    )
    await waitFor('started', () => r.lines.some((l) => l.msg === 'hive-ha-proxy started'), 20_000)
    const session = await HttpHiveSession.open({ port })
    t.equal(await session.query(), 'http-ulimit', `${process.version}: a query went through`)
    await session.close()
    r.proc.kill('SIGTERM')
    t.equal(await r.exit, 0)
  },
)

t.test(
  "under Node's permission model the HS2 route runs on net.Socket, says why, and still pipes",
  async (t) => {
    // --permission refuses process.binding (ERR_ACCESS_DENIED), which the handles transport needs
    // (and so does tap's tracing of child processes: the proxy runs untraced). Node 26 also asks
    // for --allow-net there, Node 22 and 24 do not know that flag; Node 20 names the model
    // --experimental-permission.
    const echo = net.createServer((s) => s.on('error', () => {}).pipe(s))
    echo.listen(0, '127.0.0.1')
    await once(echo, 'listening')
    t.teardown(() => echo.close())
    const port = await freePort()
    const flags = process.allowedNodeEnvironmentFlags
    const node = [
      flags.has('--permission') ? '--permission' : '--experimental-permission',
      '--allow-fs-read=*',
    ]
    if (flags.has('--allow-net')) node.push('--allow-net')
    const r = run(
      t,
      [
        '--hs2',
        `jdbc:hive2://127.0.0.1:${(echo.address() as net.AddressInfo).port}/`,
        '--hs2-listen',
        `127.0.0.1:${port}`,
      ],
      {},
      { node, untraced: true },
    )
    await waitFor('started', () => r.lines.some((l) => l.msg === 'hive-ha-proxy started'), 20_000)
    const warn = r.lines.find(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('HS2 route on net.Socket'),
    )
    t.match(
      warn,
      { level: 'warn', reason: /ERR_ACCESS_DENIED/, fix: /--permission.*tcpIo: sockets/ },
      `the reason and the fix are logged: ${JSON.stringify(warn)}`,
    )
    const c = net.connect(port, '127.0.0.1')
    c.end('through the proxy')
    const back: Buffer[] = []
    for await (const d of c) back.push(d as Buffer)
    t.equal(Buffer.concat(back).toString(), 'through the proxy', 'bytes reach the backend and back')
    r.proc.kill('SIGTERM')
    t.equal(await r.exit, 0)
  },
)

for (const transport of ['handles', 'sockets']) {
  t.test(
    `out of file descriptors (${transport}): clients are refused, no backend is blamed, service resumes`,
    async (t) => {
      const held = new Set<net.Socket>()
      const backend = net.createServer((s) => {
        held.add(s)
        s.on('error', () => {})
        s.on('close', () => held.delete(s))
        s.on('data', (d) => s.write(d))
      })
      backend.listen(0, '127.0.0.1')
      await once(backend, 'listening')
      t.teardown(() => {
        for (const s of held) s.destroy()
        backend.close()
      })
      const bport = (backend.address() as net.AddressInfo).port
      const dir = mkdtempSync(join(tmpdir(), 'hhp-fd-'))
      t.teardown(() => rmSync(dir, { recursive: true, force: true }))
      const logged: string[] = []
      // A fresh proxy holds about 22 descriptors (more while loading its modules); 64 leaves room for
      // about 20 proxied connections of the 60 asked for. Each one takes two descriptors: with an odd
      // number free, the last accept succeeds and the backend connect is what fails (EMFILE), so the
      // two limits exercise both ways of running out, whatever the exact count at start.
      for (const limit of [64, 65]) {
        const port = await freePort()
        const file = join(dir, `c${limit}.yaml`)
        writeFileSync(
          file,
          `hs2:\n  url: "jdbc:hive2://127.0.0.1:${bport}/"\n  listen: 127.0.0.1:${port}\n  transport: ${transport}\n`,
        )
        const r = run(t, ['--config', file], {}, { ulimit: `-n ${limit}` })
        await waitFor('started', () => r.lines.some((l) => l.msg === 'hive-ha-proxy started'))
        const clients: net.Socket[] = []
        for (let i = 0; i < 60; i++) {
          const c = net.connect(port, '127.0.0.1')
          c.on('error', () => {})
          clients.push(c)
        }
        // some clients are piped, the rest closed by the proxy (or left in its kernel backlog)
        await waitFor('some piped', () => held.size >= 10, 10_000)
        await new Promise((r) => setTimeout(r, 500))
        t.ok(
          held.size < 60,
          `ulimit -n ${limit}: only ${held.size} of 60 clients reached the backend`,
        )
        t.equal(r.proc.exitCode, null, 'the proxy is still running')
        for (const c of clients) c.destroy()
        await waitFor('released', () => held.size === 0, 10_000)
        // the backend was never blamed: the next client is piped to it at once
        const c = net.connect(port, '127.0.0.1')
        c.write('ping')
        const [echo] = (await once(c, 'data')) as [Buffer]
        t.equal(echo.toString(), 'ping', 'served again once descriptors are free')
        c.destroy()
        r.proc.kill('SIGTERM')
        t.equal(await r.exit, 0)
        logged.push(...r.lines.map((l) => String(l.msg)))
      }
      t.ok(
        logged.some((m) => m.includes("on this proxy's own limits")),
        'a backend connect failed for lack of descriptors, and was logged as such',
      )
      t.notOk(logged.includes('backend ejected'), 'no backend ejected')
      t.notOk(
        logged.includes('backend connect failed; trying another'),
        'no connect failure blamed on the backend',
      )
    },
  )
}

t.test(
  'SIGHUP with a broken config file: rejected with the reason, the running configuration stays',
  async (t) => {
    const stub = await startHs2Stub({ id: 'yaml-a' })
    t.teardown(() => stub.close())
    const dir = mkdtempSync(join(tmpdir(), 'hhp-yaml-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'proxy.yaml')
    const port = await freePort()
    writeFileSync(
      file,
      `hs2:\n  - url: "jdbc:hive2://127.0.0.1:${stub.port}/"\n    listen: 127.0.0.1:${port}\n`,
    )
    const r = run(t, ['--config', file])
    await waitFor('started', () => r.lines.some((l) => l.msg === 'hive-ha-proxy started'))
    writeFileSync(
      file,
      `hs2:\n  - url: "jdbc:hive2://127.0.0.1:${stub.port}/"\n    listen: 127.0.0.1:${port}\n    policy: fastest\n`,
    )
    r.proc.kill('SIGHUP')
    await waitFor('rejected', () =>
      r.lines.some((l) => l.msg === 'reload rejected; the running configuration stays'),
    )
    const rec = r.lines.find((l) => l.msg === 'reload rejected; the running configuration stays')!
    t.match(rec, { problems: [{ key: /policy/ }] })
    t.equal(await queryBackendId({ host: '127.0.0.1', port }), 'yaml-a', 'still serving')
    r.proc.kill('SIGTERM')
    t.equal(await r.exit, 0)
  },
)

t.test(
  'TLS front from flags: check describes it; SIGHUP takes a rotated certificate, refuses a mismatched key',
  async (t) => {
    const stub = await startHs2Stub({ id: 'tls-a' })
    t.teardown(() => stub.close())
    const ca = makeCa(t)
    const first = ca.issue('first', ['localhost', '127.0.0.1'])
    const second = ca.issue('second', ['localhost', '127.0.0.1'])
    // the files the proxy reads: rotated in place, as certificate tooling does
    const cert = join(ca.dir, 'proxy.crt')
    const key = join(ca.dir, 'proxy.key')
    copyFileSync(first.cert, cert)
    copyFileSync(first.key, key)
    const port = await freePort()
    const args = [
      '--hs2',
      `jdbc:hive2://127.0.0.1:${stub.port}/`,
      '--hs2-listen',
      `127.0.0.1:${port}`,
    ]
    const tlsArgs = ['--hs2-tls-cert', cert, '--hs2-tls-key', key]
    const check = run(t, ['check', ...args, ...tlsArgs])
    t.equal(await check.exit, 0)
    t.match(
      check.lines.map((l) => l.raw).join('\n'),
      new RegExp(`clients connect with TLS \\(TLSv1\\.2 or later\\) and check ${cert}`),
    )
    const clientTls = { ca: ca.read(ca.ca), servername: 'localhost' }
    const cn = (): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, ...clientTls }, () => {
          resolve(s.getPeerCertificate().subject.CN)
          s.destroy()
        })
        s.on('error', reject)
      })
    const r = run(t, [...args, ...tlsArgs])
    await waitFor('started', () => r.lines.some((l) => l.msg === 'hive-ha-proxy started'))
    t.equal(await cn(), 'first')
    t.equal(await queryBackendId({ host: '127.0.0.1', port, tls: clientTls }), 'tls-a')

    copyFileSync(second.cert, cert)
    copyFileSync(second.key, key)
    r.proc.kill('SIGHUP')
    await waitFor('reloaded', () =>
      r.lines.some((l) => l.msg === 'TLS certificate reloaded for new connections'),
    )
    t.equal(await cn(), 'second', 'new connections get the rotated certificate')

    copyFileSync(first.cert, cert) // the key stays the second one's: a mismatched pair
    r.proc.kill('SIGHUP')
    await waitFor('rejected', () =>
      r.lines.some((l) => l.msg === 'reload rejected; the running configuration stays'),
    )
    const rec = r.lines.find((l) => l.msg === 'reload rejected; the running configuration stays')!
    t.match(rec, { problems: [{ key: '--hs2-tls-key', message: /does not fit the certificate/ }] })
    t.equal(await cn(), 'second', 'the running certificate stays')
    t.equal(await queryBackendId({ host: '127.0.0.1', port, tls: clientTls }), 'tls-a')
    r.proc.kill('SIGTERM')
    t.equal(await r.exit, 0)
  },
)

t.test('the status command reads a running proxy', async (t) => {
  const stub = await startHs2Stub({ id: 'st-a' })
  t.teardown(() => stub.close())
  const [port, adminPort] = [await freePort(), await freePort()]
  const r = run(t, [
    '--hs2',
    `jdbc:hive2://127.0.0.1:${stub.port}/`,
    '--hs2-listen',
    `127.0.0.1:${port}`,
    '--admin-listen',
    `127.0.0.1:${adminPort}`,
  ])
  await waitFor('started', () => r.lines.some((l) => l.msg === 'hive-ha-proxy started'))
  const s = run(t, ['status', '--admin', `http://127.0.0.1:${adminPort}`])
  t.equal(await s.exit, 0)
  const out = s.lines.map((l) => String(l.raw ?? '')).join('\n')
  t.match(out, /READY/)
  t.match(out, new RegExp(`127\\.0\\.0\\.1:${stub.port}\\s+up`))
  r.proc.kill('SIGTERM')
  t.equal(await r.exit, 0)
})
