// Scenario 4: memory. RSS of a fresh proxy (and a fresh haproxy) holding N idle client connections,
// each pinged once end to end; per connection = (RSS with N − RSS before) / N. N stays under the
// open-files hard limit: a proxied connection costs the middle process 2 descriptors.
import { rssKiB, start, stop, waitLine } from '../lib/procs.mjs'
import { freePort, startHaproxy, startProxy } from '../lib/services.mjs'
import { fmt, median, rotate, table, target } from '../lib/stats.mjs'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'

async function hold(ctx, port, n) {
  const p = start(
    'idle-client',
    process.execPath,
    [join(ctx.root, 'bench/client.mjs'), JSON.stringify({ mode: 'idle', port, n })],
    { ulimit: true },
  )
  const ready = JSON.parse(await waitLine(p, /"ready"/, 120_000, 'idle connections ready'))
  return {
    ready,
    release: async () => {
      p.proc.stdin.write('close\n')
      await waitLine(p, /"closed"/, 30_000, 'idle connections closed')
      await stop(p)
    },
  }
}

export async function idle(ctx) {
  const { shared: s, cfg } = ctx
  const n = cfg.idle
  const echo = s.backend.ports.echo
  const configs = [
    ctx.haproxyBin && {
      name: 'haproxy',
      start: async (i) => {
        const port = await freePort()
        const proc = await startHaproxy(
          ctx.haproxyBin,
          ctx.dir,
          `haproxy-idle-${i}`,
          [{ name: 'echo', port, servers: [echo] }],
          { maxconn: n + 100 },
        )
        return { proc, port }
      },
    },
    {
      name: 'hive-ha-proxy',
      start: async (i) => {
        const port = await freePort()
        const px = await startProxy(ctx.root, ctx.dir, `proxy-idle-${i}`, {
          hs2: [{ name: 'idle', url: `jdbc:hive2://127.0.0.1:${echo}/`, listen: port }],
        })
        return { proc: px.proc, port }
      },
    },
  ].filter(Boolean)
  const runs = Object.fromEntries(configs.map((c) => [c.name, []]))
  for (let r = 0; r < ctx.reps; r++) {
    for (const c of rotate(configs, r)) {
      const { proc, port } = await c.start(r)
      try {
        const warm = await hold(ctx, port, Math.min(200, n))
        await warm.release()
        await sleep(300)
        const before = rssKiB(proc.pid)
        const h = await hold(ctx, port, n)
        if (h.ready.errors > 0 || h.ready.held !== n)
          throw new Error(
            `${c.name}: held ${h.ready.held} of ${n} connections (${h.ready.errors} errors)`,
          )
        await sleep(500)
        const withN = rssKiB(proc.pid)
        await h.release()
        await sleep(500)
        const after = rssKiB(proc.pid)
        runs[c.name].push({
          before,
          withN,
          after,
          perConn: (withN - before) / n,
          openMs: h.ready.ms,
        })
        ctx.progress(`idle ${c.name}: ${fmt((withN - before) / n, 1)} KiB per connection`)
      } finally {
        await stop(proc)
      }
    }
  }
  const med = (name, k) => median(runs[name].map((x) => x[k]))
  const rows = configs.map((c) => [
    c.name,
    fmt(n),
    fmt(med(c.name, 'before') / 1024, 1),
    fmt(med(c.name, 'withN') / 1024, 1),
    fmt(med(c.name, 'after') / 1024, 1),
    fmt(med(c.name, 'perConn'), 1),
  ])
  const px = med('hive-ha-proxy', 'perConn')
  return {
    id: 4,
    title: `Memory: ${fmt(n)} idle client connections held through a fresh process`,
    table: table(
      [
        'path',
        'connections',
        'RSS before MiB',
        `RSS with ${fmt(n)} MiB`,
        'RSS after they closed MiB',
        'KiB per idle connection',
      ],
      rows,
    ),
    notes:
      n < 10_000
        ? [
            `${fmt(n)} rather than 10,000 connections: the open-files hard limit here is ${fmt(ctx.hardNofile)} and each proxied connection uses 2 descriptors in the middle process.`,
          ]
        : [],
    ratios: s.haproxy
      ? [`proxy/haproxy per connection ${fmt(px / med('haproxy', 'perConn'), 2)}`]
      : [],
    targets: [target('RSS per idle connection', `${fmt(px, 1)} KiB`, '≤ 8 KiB', px <= 8)],
    runs,
  }
}
