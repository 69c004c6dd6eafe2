// Scenario 7: start-up and idle cost, the figures a sidecar pays once per pod. Each start is a
// fresh process: haproxy (one TCP front), a bare `node -e` TCP listener (the floor any Node
// process pays), the same listener beside a fastify app with pino and prom-client bundled as the
// proxy is (the floor of a Node process with this admin plane) and hive-ha-proxy with one static
// HS2 route, in rotating order. Measured from
// spawn: "listening" = the front accepts a TCP connection (polled every 2 ms), "ready" = the
// admin API's /readyz answers 200 (the same as listening for the other two), then the RSS after
// 2 s of idling. Medians of the starts.
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { build } from 'esbuild'
import { rssKiB, start, stop } from '../lib/procs.mjs'
import { freePort, HOST } from '../lib/services.mjs'
import { fmt, median, ratio, rotate, table, target } from '../lib/stats.mjs'

const POLL_MS = 2
const GIVE_UP_MS = 20_000
const SETTLE_MS = 2000

function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, HOST)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

async function readyz(port) {
  try {
    const r = await fetch(`http://${HOST}:${port}/readyz`, { signal: AbortSignal.timeout(500) })
    await r.arrayBuffer()
    return r.status === 200
  } catch {
    return false
  }
}

/** ms from `t0` until `probe()` is true, polled; throws when the process exits or time runs out */
async function until(p, t0, probe, what) {
  for (;;) {
    if (await probe()) return performance.now() - t0
    if (p.exited)
      throw new Error(
        `${p.name} exited (${p.code}) before ${what}: ${p.lines.slice(-5).join(' | ')}`,
      )
    if (performance.now() - t0 > GIVE_UP_MS)
      throw new Error(`${p.name}: no ${what} after ${GIVE_UP_MS} ms`)
    await sleep(POLL_MS)
  }
}

function haproxyConfig(port, backend) {
  return [
    'global',
    '  nbthread 1',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    'frontend f',
    `  bind ${HOST}:${port}`,
    '  default_backend b',
    'backend b',
    `  server s0 ${HOST}:${backend}`,
    '',
  ].join('\n')
}

/**
 * A TCP listener plus a fastify app (pino logger, prom-client registry, one /readyz route),
 * bundled with the same esbuild settings as scripts/bundle.mjs: what the admin plane's libraries
 * cost before any proxy code runs. Argv: <front port> <admin port>.
 */
const ADMIN_FLOOR = `
import net from 'node:net'
import Fastify from 'fastify'
import pino from 'pino'
import { Registry } from 'prom-client'
const [port, admin] = process.argv.slice(2).map(Number)
net.createServer((c) => c.end()).listen(port, '${HOST}')
const registry = new Registry()
const app = Fastify({ loggerInstance: pino({ level: 'info' }) })
app.get('/readyz', async () => 'ready')
app.get('/metrics', async () => registry.metrics())
await app.listen({ host: '${HOST}', port: admin })
`

async function bundleAdminFloor(root, outfile) {
  await build({
    stdin: { contents: ADMIN_FLOOR, resolveDir: root, loader: 'js', sourcefile: 'admin-floor.mjs' },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    legalComments: 'none',
    banner: {
      js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
    },
    logLevel: 'error',
  })
}

export async function startup(ctx) {
  const { cfg, shared: s } = ctx
  const echo = s.backend.ports.echo
  const starts = cfg.starts
  const floorFile = join(ctx.dir, 'admin-floor.mjs')
  await bundleAdminFloor(ctx.root, floorFile)
  const configs = [
    ctx.haproxyBin && {
      name: 'haproxy',
      spawn: async (i) => {
        const port = await freePort()
        const file = join(ctx.dir, `haproxy-start-${i}.cfg`)
        writeFileSync(file, haproxyConfig(port, echo))
        return { p: start(`haproxy-start-${i}`, ctx.haproxyBin, ['-db', '-f', file]), port }
      },
    },
    {
      name: 'bare node listener',
      spawn: async (i) => {
        const port = await freePort()
        const code = `require('net').createServer((c) => c.end()).listen(${port}, '${HOST}')`
        return { p: start(`node-start-${i}`, process.execPath, ['-e', code]), port }
      },
    },
    {
      name: 'node + fastify, pino, prom-client',
      spawn: async (i) => {
        const port = await freePort()
        const admin = await freePort()
        const args = [floorFile, String(port), String(admin)]
        return { p: start(`floor-start-${i}`, process.execPath, args), port, admin }
      },
    },
    {
      name: 'hive-ha-proxy',
      spawn: async (i) => {
        const port = await freePort()
        const admin = await freePort()
        const args = [
          join(ctx.root, 'bin/hive-ha-proxy'),
          '--hs2',
          `jdbc:hive2://${HOST}:${echo}/`,
          '--hs2-listen',
          `${HOST}:${port}`,
          '--admin-listen',
          `${HOST}:${admin}`,
        ]
        return {
          p: start(`proxy-start-${i}`, process.execPath, args, { cwd: ctx.root }),
          port,
          admin,
        }
      },
    },
  ].filter(Boolean)
  const runs = Object.fromEntries(configs.map((c) => [c.name, []]))
  for (let r = 0; r < starts; r++) {
    for (const c of rotate(configs, r)) {
      const t0 = performance.now()
      const { p, port, admin } = await c.spawn(r)
      try {
        const listening = await until(p, t0, () => accepts(port), 'listening')
        const ready =
          admin === undefined ? listening : await until(p, t0, () => readyz(admin), 'ready')
        await sleep(SETTLE_MS)
        runs[c.name].push({ listening, ready, rssKiB: rssKiB(p.pid) })
      } finally {
        await stop(p)
      }
    }
  }
  const med = (name, k) => median(runs[name].map((x) => x[k]))
  const rows = configs.map((c) => [
    c.name,
    fmt(med(c.name, 'listening')),
    fmt(med(c.name, 'ready')),
    fmt(med(c.name, 'rssKiB') / 1024, 1),
  ])
  const px = {
    listening: med('hive-ha-proxy', 'listening'),
    ready: med('hive-ha-proxy', 'ready'),
    rss: med('hive-ha-proxy', 'rssKiB'),
  }
  const rssRatio = ratio(px.rss, med('bare node listener', 'rssKiB'))
  const floorRatio = ratio(
    med('node + fastify, pino, prom-client', 'rssKiB'),
    med('bare node listener', 'rssKiB'),
  )
  return {
    id: 7,
    title: `Start-up and idle: ${starts} fresh starts each, one static HS2 route`,
    table: table(['process', 'exec to listening ms', 'exec to ready ms', 'idle RSS MiB'], rows),
    ratios: [
      `proxy/bare node idle RSS ${fmt(rssRatio, 2)}`,
      `node + fastify, pino, prom-client/bare node idle RSS ${fmt(floorRatio, 2)} (the admin plane's floor)`,
      ...(ctx.haproxyBin
        ? [
            `proxy/haproxy exec to listening ${fmt(ratio(px.listening, med('haproxy', 'listening')), 1)}`,
          ]
        : []),
    ],
    notes: [`polled every ${POLL_MS} ms; RSS read ${SETTLE_MS / 1000} s after ready`],
    targets: [
      target('exec to listening', `${fmt(px.listening)} ms`, '≤ 300 ms', px.listening <= 300),
      target('exec to ready (static route)', `${fmt(px.ready)} ms`, '≤ 350 ms', px.ready <= 350),
      target('idle RSS vs a bare Node listener', `${fmt(rssRatio, 2)}×`, '≤ 1.3×', rssRatio <= 1.3),
    ],
    runs,
  }
}
