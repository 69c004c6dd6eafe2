// Scenario 6: failover. A client keeps calling through a fresh proxy while one backend fails at T0;
// failover time = from T0 until the end of the first successful call that started at or after T0
// and after the last failed call (conservative: for a client that calls back to back it includes
// the wait for the call that was in flight).
//   a) HS2, znode removed: backend A is frozen (SIGSTOP: its kernel still accepts connections, so
//      only the znode's removal can tell the proxy), then its znode is deleted; T0 = delete done.
//   b) HS2, process dead, znode left: A is SIGKILLed (connects are refused once it is gone); T0 =
//      the kill, and the time the kernel took until the process was gone is shown apart.
//   c) metastore SEQUENTIAL, the primary SIGKILLed under a live client connection that calls
//      get_table_req back to back (its sockets are reset/closed once it is gone); T0 = the kill.
// HS2 clients call on a fresh connection every 2 ms (16 bytes echoed, 300 ms timeout); a call that
// was in flight on the dead backend fails for HS2 by nature (sessions live in one server).
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { start, stop, waitLine } from '../lib/procs.mjs'
import { freePort, startBackend, startProxy } from '../lib/services.mjs'
import { fmt, median, table, target } from '../lib/stats.mjs'

const wall = () => performance.timeOrigin + performance.now()

function analyse(calls, t0) {
  const after = calls.filter((c) => c[0] >= t0)
  const failedAfter = after.filter((c) => c[2] === 0)
  const tClean = failedAfter.length > 0 ? Math.max(...failedAfter.map((c) => c[0])) : t0
  // conservative: a call in flight at T0 may have been answered just before the failure
  const oks = calls.filter((c) => c[2] === 1 && c[0] >= tClean).map((c) => c[1])
  const firstOk = oks.length > 0 ? Math.min(...oks) : NaN
  const okAfter = after.filter((c) => c[2] === 1)
  return {
    failoverMs: firstOk - t0,
    failedAfter: failedAfter.length,
    failedBefore: calls.filter((c) => c[0] < t0 && c[2] === 0).length,
    callsAfter: after.length,
    maxMsAfter: okAfter.length > 0 ? Math.max(...okAfter.map((c) => c[1] - c[0])) : NaN,
  }
}

const logTime = (proc, re, t0) => {
  for (const l of proc.lines) {
    if (!re.test(l)) continue
    try {
      const raw = JSON.parse(l).time // pino: ISO text (ms) or epoch ms
      const t = typeof raw === 'number' ? raw : Date.parse(raw)
      if (t >= t0 - 1) return t - t0
    } catch {}
  }
  return NaN
}

async function runClient(ctx, job) {
  const p = start('failover-client', process.execPath, [
    join(ctx.root, 'bench/client.mjs'),
    JSON.stringify(job),
  ])
  await waitLine(p, /"started"/, 20_000, 'client start')
  return {
    result: async () => {
      const line = await waitLine(p, /"calls"|"error"/, 60_000, 'client result')
      await stop(p)
      const r = JSON.parse(line)
      if (r.error) throw new Error(`failover client: ${r.error}`)
      return r.calls
    },
  }
}

async function hs2Case(ctx, kind, rep) {
  const zk = ctx.shared.zk
  const a = await startBackend(ctx.root, `fo-${kind}-a`, [{ kind: 'echo' }])
  const b = await startBackend(ctx.root, `fo-${kind}-b`, [{ kind: 'echo' }])
  const ns = `bench_failover_${kind}_${rep}`
  await zk.client.mkdirp(`/${ns}`)
  const pathA = await zk.client.registerHs2(ns, a.ports[0])
  const pathB = await zk.client.registerHs2(ns, b.ports[0])
  const listen = await freePort()
  const url = `jdbc:hive2://127.0.0.1:${zk.port}/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=${ns}`
  const px = await startProxy(ctx.root, ctx.dir, `proxy-failover-${kind}-${rep}`, {
    zookeeper: {},
    hs2: [{ name: 'fo', url, listen, policy: 'round-robin', connectTimeoutMs: 1000 }],
  })
  try {
    const c = await runClient(ctx, {
      mode: 'probe',
      port: listen,
      everyMs: 2,
      durationMs: ctx.cfg.failoverMs,
      timeoutMs: 300,
    })
    await sleep(ctx.cfg.failoverMs / 3)
    let t0
    let killMs = NaN
    if (kind === 'znode') {
      a.proc.proc.kill('SIGSTOP')
      await zk.client.remove(pathA)
      t0 = wall()
    } else {
      t0 = wall()
      a.proc.proc.kill('SIGKILL')
      await a.proc.exit
      killMs = wall() - t0 // from then on its port refuses connections
    }
    const r = analyse(await c.result(), t0)
    r.killMs = killMs
    if (kind === 'znode') r.seenMs = logTime(px.proc, /backends changed/, t0)
    else r.seenMs = logTime(px.proc, /backend connect failed/, t0)
    return r
  } finally {
    await Promise.all([stop(a.proc), stop(b.proc), stop(px.proc)])
    await zk.client.remove(pathB).catch(() => {})
    if (kind !== 'znode') await zk.client.remove(pathA).catch(() => {})
  }
}

async function hmsCase(ctx, rep) {
  const p = await startBackend(ctx.root, 'fo-hms-primary', [{ kind: 'hms' }])
  const s = await startBackend(ctx.root, 'fo-hms-secondary', [{ kind: 'hms' }])
  const listen = await freePort()
  const px = await startProxy(ctx.root, ctx.dir, `proxy-failover-hms-${rep}`, {
    metastore: [
      {
        name: 'fo',
        uris: `thrift://127.0.0.1:${p.ports[0]},thrift://127.0.0.1:${s.ports[0]}`,
        listen,
        selection: 'SEQUENTIAL',
        mode: 'auto',
        connectTimeoutMs: 1000,
      },
    ],
  })
  try {
    // the secondary answers its first calls now, not cold during the failover
    await ctx.client({ mode: 'hms-calls', ports: [s.ports[0]], warmup: 0, count: 500 })
    const c = await runClient(ctx, {
      mode: 'hms-loop',
      port: listen,
      durationMs: ctx.cfg.failoverMs,
    })
    await sleep(ctx.cfg.failoverMs / 3)
    const t0 = wall()
    p.proc.proc.kill('SIGKILL')
    await p.proc.exit
    const killMs = wall() - t0 // by then the kernel has closed (reset) its connections
    const r = analyse(await c.result(), t0)
    r.killMs = killMs
    r.seenMs = logTime(px.proc, /metastore gone; failing over/, t0)
    return r
  } finally {
    await Promise.all([stop(p.proc), stop(s.proc), stop(px.proc)])
  }
}

export async function failover(ctx) {
  const cases = [
    ctx.shared.zk && {
      name: 'HS2, znode removed (backend frozen)',
      visible: 'znode deleted',
      run: (r) => hs2Case(ctx, 'znode', r),
    },
    ctx.shared.zk && {
      name: 'HS2, process killed, znode left',
      visible: 'SIGKILL sent (connect refused once gone)',
      run: (r) => hs2Case(ctx, 'dead', r),
    },
    {
      name: 'metastore SEQUENTIAL, primary killed under a live connection',
      visible: 'SIGKILL sent (sockets reset/closed once gone)',
      run: (r) => hmsCase(ctx, r),
    },
  ].filter(Boolean)
  const runs = {}
  for (const c of cases) {
    runs[c.name] = []
    for (let r = 0; r < ctx.reps; r++) {
      runs[c.name].push(await c.run(r))
      ctx.progress(`failover ${c.name}: ${fmt(runs[c.name].at(-1).failoverMs, 1)} ms`)
    }
  }
  const med = (name, k) => median(runs[name].map((x) => x[k]))
  const sum = (name, k) => runs[name].reduce((a, x) => a + (x[k] ?? 0), 0)
  const rows = cases.map((c) => [
    c.name,
    c.visible,
    fmt(med(c.name, 'failoverMs'), 1),
    `${runs[c.name].map((x) => fmt(x.failoverMs, 1)).join(' / ')}`,
    fmt(med(c.name, 'seenMs'), 1),
    fmt(med(c.name, 'maxMsAfter'), 1),
    `${sum(c.name, 'failedAfter')} / ${sum(c.name, 'callsAfter')}`,
    fmt(sum(c.name, 'failedBefore')),
    fmt(med(c.name, 'killMs'), 1),
  ])
  return {
    id: 6,
    title: `Failover through the proxy (${ctx.reps} run${ctx.reps > 1 ? 's' : ''} each, a fresh proxy per run)`,
    table: table(
      [
        'case',
        'T0',
        'failover ms after T0 (median)',
        'each run',
        'proxy logged it after ms',
        'slowest call started after T0 ms',
        'failed calls started after T0 / all',
        'calls in flight at T0 that failed',
        'of which the kernel took to end the process, ms',
      ],
      rows,
    ),
    notes: [
      'failover = from T0 until the end of the first successful call that started at or after T0 and after the last failed call. HS2 calls in flight on a dead or frozen backend fail by nature (sessions live in one server) and are counted apart.',
    ],
    ratios: [],
    targets: cases.map((c) =>
      target(
        `failover: ${c.name}`,
        `${fmt(med(c.name, 'failoverMs'), 1)} ms`,
        '< 100 ms',
        med(c.name, 'failoverMs') < 100,
      ),
    ),
    runs,
  }
}
