#!/usr/bin/env node
// npm run bench [-- --quick] [--reps N] [--only 1,3,5,8] [--json results.json]
//
// Measures hive-ha-proxy against a direct connection and against haproxy (mode tcp, one thread)
// on this machine, in one run: the configurations of a scenario interleave with a rotating order
// (A B C, B C A, C A B, ...), every measurement runs in a fresh client process, and the tables
// show medians. The proxy is the built CLI (`node bin/hive-ha-proxy --config ...`, run
// `npm run build` first); the backends, a real ZooKeeper and haproxy are started here, all on
// 127.0.0.1, and every process is killed at the end, also on error or Ctrl-C.
// See docs/benchmarks.md for a recorded run and what the numbers mean.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Meter } from './lib/measure.mjs'
import { killAllNow, loadavg, machineCpuSec, pin, run, stopAll } from './lib/procs.mjs'
import {
  ensureHaproxy,
  ensureZookeeper,
  freePort,
  startBackend,
  startHaproxy,
  startNaiveProxy,
  startProxy,
  startZk,
  zkClient,
} from './lib/services.mjs'
import { bulk } from './scenarios/bulk.mjs'
import { rtt } from './scenarios/rtt.mjs'
import { connect } from './scenarios/connect.mjs'
import { idle } from './scenarios/idle.mjs'
import { metastore } from './scenarios/metastore.mjs'
import { failover } from './scenarios/failover.mjs'
import { startup } from './scenarios/startup.mjs'
import { tlsScenario } from './scenarios/tls.mjs'
import { hung } from './scenarios/hung.mjs'
import { http } from './scenarios/http.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const MiB = 2 ** 20

function usage(msg) {
  if (msg) process.stderr.write(`bench: ${msg}\n`)
  process.stderr.write(
    'usage: npm run bench [-- --quick] [--reps N] [--only 1,2,3,4,5,6,7,8,9,10] [--json file]\n',
  )
  process.exit(msg ? 2 : 0)
}

function parseArgs(argv) {
  const o = {
    quick: false,
    reps: undefined,
    only: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    json: undefined,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]
      if (v === undefined) usage(`${a} needs a value`)
      return v
    }
    if (a === '--quick') o.quick = true
    else if (a.startsWith('--reps')) o.reps = Number(val())
    else if (a.startsWith('--only')) o.only = val().split(',').map(Number)
    else if (a.startsWith('--json')) o.json = val()
    else if (a === '-h' || a === '--help') usage()
    else usage(`unknown argument ${a}`)
  }
  if (o.reps !== undefined && !(Number.isInteger(o.reps) && o.reps >= 1 && o.reps <= 20))
    usage('--reps must be 1..20')
  if (o.only.some((n) => !(n >= 1 && n <= 10))) usage('--only takes scenario numbers 1..10')
  return o
}

const opts = parseArgs(process.argv.slice(2))
const cfg = opts.quick
  ? {
      reps: 1,
      bulkBytes: 32 * MiB,
      rtts: 2000,
      rttWarmup: 200,
      rttBlock: 250,
      conns: 500,
      idle: 1000,
      calls: 2000,
      callWarmup: 200,
      streamBytes: 32 * MiB,
      failoverMs: 600,
      starts: 3,
      tlsConns: 300,
      hungEveryMs: 25,
      hungBeforeMs: 500,
      hungAfterMs: 2800,
    }
  : {
      reps: 3,
      bulkBytes: 512 * MiB,
      rtts: 20_000,
      rttWarmup: 2000,
      rttBlock: 250,
      conns: 5000,
      idle: 9800,
      calls: 20_000,
      callWarmup: 2000,
      streamBytes: 512 * MiB,
      failoverMs: 1500,
      starts: 10,
      tlsConns: 3000,
      // scenario 9: about 340 connections per run (firstResponseTimeoutMs is 2 s of it)
      hungEveryMs: 15,
      hungBeforeMs: 1500,
      hungAfterMs: 3600,
    }
if (opts.reps) cfg.reps = opts.reps

const t0 = performance.now()
const progress = (msg) =>
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`)
let dir
let cleaning = false

async function cleanup() {
  if (cleaning) return
  cleaning = true
  await stopAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
}
process.on('exit', () => killAllNow())
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    progress(`${sig}: stopping every process started`)
    void cleanup().finally(() => process.exit(130))
  })
}

async function hardNofile() {
  const r = await run('bash', ['-c', 'ulimit -Hn'], { ms: 5000 })
  const n = Number(r.stdout.trim())
  return Number.isFinite(n) ? n : 1024
}

async function machine() {
  const os = await run(
    'bash',
    [
      '-c',
      '. /etc/os-release 2>/dev/null; echo "$PRETTY_NAME"; uname -r; cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null',
    ],
    { ms: 5000 },
  )
  const [distro, kernel, idleDriver] = os.stdout.trim().split('\n')
  const ha = existsSync('/usr/sbin/haproxy')
    ? (await run('/usr/sbin/haproxy', ['-v'], { ms: 5000 })).stdout.split('\n')[0]
    : 'haproxy: not installed'
  return {
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memGiB: Math.round(totalmem() / 2 ** 30),
    distro,
    kernel,
    idleDriver: idleDriver ?? '?',
    node: process.version,
    haproxy: ha.replace(/ - https.*/, ''),
  }
}

async function main() {
  if (!existsSync(join(root, 'dist/hive-ha-proxy.js')))
    throw new Error('dist/ is missing: run `npm run build` first (the bench runs the built CLI)')
  dir = mkdtempSync(join(tmpdir(), 'hhp-bench-'))
  const steal0 = machineCpuSec().steal
  const report = {
    quick: opts.quick,
    reps: cfg.reps,
    cfg,
    started: new Date().toISOString(),
    loadBefore: loadavg(),
    machine: await machine(),
    scenarios: [],
    skipped: [],
    errors: [],
  }
  const ncpu = cpus().length
  const hard = await hardNofile()
  if (!opts.quick) cfg.idle = Math.min(cfg.idle, Math.floor((hard - 200) / 2))

  const ha = await ensureHaproxy(progress)
  if (ha.missing) report.skipped.push(`haproxy columns: ${ha.missing}`)
  const zkOk = await ensureZookeeper(progress)
  if (zkOk.missing)
    report.skipped.push(`ZooKeeper parts (scenario 3, failover cases a and b): ${zkOk.missing}`)
  const needZk = opts.only.includes(3) || opts.only.includes(6)
  if (zkOk.missing && opts.only.includes(3)) opts.only = opts.only.filter((n) => n !== 3)

  // shared processes
  progress('starting backends, ZooKeeper, haproxy and the proxy')
  const be = await startBackend(root, 'backend', [
    { kind: 'stream', bytes: cfg.bulkBytes },
    { kind: 'echo' },
    { kind: 'hello' },
    { kind: 'hello' },
    { kind: 'hms' },
  ])
  const [stream, echo, hello1, hello2, hms] = be.ports
  const shared = { backend: { proc: be.proc, ports: { stream, echo, hello1, hello2, hms } } }
  if (needZk && !zkOk.missing) {
    const z = await startZk(dir)
    const client = await zkClient(z.port)
    await client.mkdirp('/bench_hs2')
    await client.registerHs2('bench_hs2', hello1)
    await client.registerHs2('bench_hs2', hello2)
    shared.zk = { proc: z.proc, port: z.port, client }
  }
  if (ha.bin) {
    const ports = {
      stream: await freePort(),
      echo: await freePort(),
      hello: await freePort(),
      hms: await freePort(),
    }
    const proc = await startHaproxy(ha.bin, dir, 'haproxy', [
      { name: 'stream', port: ports.stream, servers: [stream] },
      { name: 'echo', port: ports.echo, servers: [echo] },
      { name: 'hello', port: ports.hello, servers: [hello1, hello2] },
      { name: 'hms', port: ports.hms, servers: [hms] },
    ])
    shared.haproxy = { proc, ports }
  }
  // the naive net.Socket reference for scenarios 2 and 3 (bench/naive-proxy.mjs): echo, then the two hello servers
  const nv = await startNaiveProxy(root, 'naive-proxy', [
    { servers: [echo] },
    { servers: [hello1, hello2] },
  ])
  shared.naive = { proc: nv.proc, ports: { echo: nv.ports[0], hello: nv.ports[1] } }
  const hs2 = [
    { name: 'bulk', url: `jdbc:hive2://127.0.0.1:${stream}/`, listen: await freePort() },
    { name: 'echo', url: `jdbc:hive2://127.0.0.1:${echo}/`, listen: await freePort() },
  ]
  if (shared.zk) {
    hs2.push({
      name: 'conn',
      url: `jdbc:hive2://127.0.0.1:${shared.zk.port}/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=bench_hs2`,
      listen: await freePort(),
      policy: 'round-robin',
    })
  }
  const px = await startProxy(root, dir, 'proxy', { zookeeper: shared.zk ? {} : undefined, hs2 })
  shared.proxy = px
  // scenario 5's two modes, each in a fresh process of its own: CPU per call is measured per
  // mode, and neither carries the heap and JIT state of the other scenarios
  const hmsRoute = async (name, mode) => ({
    metastore: [{ name, uris: `thrift://127.0.0.1:${hms}`, listen: await freePort(), mode }],
  })
  const pa = await startProxy(root, dir, 'proxy-hms', await hmsRoute('hms', 'auto'))
  const pp = await startProxy(root, dir, 'proxy-hms-pipe', await hmsRoute('hms-pipe', 'pipe'))
  shared.proxyHms = pa
  shared.proxyPipe = pp
  // the processes that serve the measurements (pinned per layout), and with ZooKeeper every long-lived one
  const servers = [be.proc, shared.haproxy?.proc, nv.proc, px.proc, pa.proc, pp.proc].filter(
    (p) => p !== undefined,
  )
  const longLived = () =>
    [...servers, shared.zk?.proc].filter((p) => p && !p.exited).map((p) => p.pid)

  const all = `0-${ncpu - 1}`
  const ctx = {
    root,
    dir,
    cfg,
    reps: cfg.reps,
    quick: opts.quick,
    shared,
    haproxyBin: ha.bin,
    hardNofile: hard,
    progress,
    allCpus: all,
    meter: new Meter(
      longLived,
      opts.quick
        ? { gateBudgetMs: 0, retries: 0 }
        : { gateBudgetMs: 180_000, maxWaitMs: 10_000, retries: 2 },
    ),
    layouts:
      ncpu >= 2
        ? [
            {
              name: '2 vCPU',
              text: 'client on CPU 0; backend and the middle process on CPU 1',
              client: '0',
              servers: '1',
            },
            {
              name: '1 vCPU',
              text: 'client, backend and the middle process all on CPU 1',
              client: '1',
              servers: '1',
            },
          ]
        : [{ name: '1 vCPU', text: 'everything on CPU 0', client: '0', servers: '0' }],
    /** a scenario's own processes: pinned and metered like the shared ones until the returned call */
    addServers: (procs) => {
      servers.push(...procs)
      return () => {
        for (const p of procs) {
          const i = servers.indexOf(p)
          if (i >= 0) servers.splice(i, 1)
        }
      }
    },
    pinServers: async (cpusList) => {
      for (const p of servers) await pin(p.pid, cpusList)
    },
    client: async (job, { pin: cpu } = {}) => {
      const r = await run(process.execPath, [join(root, 'bench/client.mjs'), JSON.stringify(job)], {
        ms: 300_000,
        pin: cpu,
      })
      const last = r.stdout.trim().split('\n').pop() ?? ''
      let res
      try {
        res = JSON.parse(last)
      } catch {
        throw new Error(`client ${job.mode} failed (${r.code}): ${r.stderr.slice(-500) || last}`)
      }
      if (res.error) throw new Error(`client ${job.mode}: ${res.error}`)
      return res
    },
  }

  const scenarios = {
    1: bulk,
    2: rtt,
    3: connect,
    4: idle,
    5: metastore,
    6: failover,
    7: startup,
    8: tlsScenario,
    9: hung,
    10: http,
  }
  for (const n of opts.only) {
    if (cleaning) break
    progress(`scenario ${n}`)
    try {
      report.scenarios.push(await scenarios[n](ctx))
    } catch (e) {
      progress(`scenario ${n} failed: ${e.stack ?? e}`)
      report.errors.push({ scenario: n, error: String(e.message ?? e) })
      await ctx.pinServers(all).catch(() => {})
    }
  }
  report.loadAfter = loadavg()
  report.seconds = (performance.now() - t0) / 1000
  report.stealSec = machineCpuSec().steal - steal0
  report.noisy = {
    noisy: ctx.meter.noisy,
    measurements: ctx.meter.measurements,
    waitedMs: Math.round(ctx.meter.waitedMs),
  }
  shared.zk?.client.close()
  return report
}

function render(r) {
  const out = []
  const m = r.machine
  out.push(
    `# hive-ha-proxy benchmark${r.quick ? ' (--quick: smoke sizes, not for comparison)' : ''}`,
  )
  out.push('')
  out.push(
    `- machine: ${m.cpu}, ${m.memGiB} GiB RAM, ${m.distro}, kernel ${m.kernel}, cpuidle ${m.idleDriver}; node ${m.node}; ${m.haproxy}`,
  )
  out.push(
    `- run: ${r.started}, ${r.reps} repetition(s), ${r.seconds.toFixed(0)} s; load average before ${r.loadBefore}, after ${r.loadAfter}; hypervisor steal ${r.stealSec.toFixed(1)} CPU-s`,
  )
  out.push(
    `- other processes: ${r.noisy.noisy} of ${r.noisy.measurements} measurements had other processes or hypervisor steal taking > 0.04 CPU-s per second (kept after up to 2 repeats; "noisy reps" columns); ${(r.noisy.waitedMs / 1000).toFixed(1)} s spent waiting for a quiet machine`,
  )
  for (const s of r.skipped) out.push(`- skipped: ${s}`)
  for (const s of r.scenarios) {
    out.push('', `## ${s.id}. ${s.title}`, '')
    if (s.table) out.push(s.table, '')
    for (const t of s.tables ?? []) out.push(t, '')
    for (const x of s.ratios ?? []) out.push(`- ratio: ${x}`)
    for (const x of s.notes ?? []) out.push(`- note: ${x}`)
  }
  for (const e of r.errors) out.push('', `## ${e.scenario}. FAILED: ${e.error}`)
  out.push('', '## Targets', '')
  const rows = r.scenarios.flatMap((s) =>
    s.targets.map(
      (t) =>
        `| ${s.id} | ${t.what} | ${t.value} | ${t.target} | ${t.met === undefined ? 'not measured' : t.met ? 'met' : 'NOT met'} |`,
    ),
  )
  out.push('| # | target | measured | wanted | verdict |', '|---|---|---|---|---|', ...rows)
  return out.join('\n')
}

let code = 0
try {
  const report = await main()
  process.stdout.write(`${render(report)}\n`)
  if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2))
  if (report.errors.length > 0) code = 1
} catch (e) {
  progress(`failed: ${e.stack ?? e}`)
  code = 1
} finally {
  await cleanup()
}
process.exit(code)
