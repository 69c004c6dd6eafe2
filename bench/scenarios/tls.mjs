// Scenario 8: TLS on both sides. The client speaks TLS to the middle process, which checks the
// backend's certificate (CA + name, with SNI) and speaks TLS to it: haproxy with `ssl` on bind and
// server (`verify required`, `verifyhost`), hive-ha-proxy with `tls` and `backendTls` (mode on).
// Measured: bulk MiB/s on one connection, and handshakes per second with 50 in flight (connect,
// handshake, first byte, close; the client resumes no session, the middle process may resume its
// backend's).
// Certificates (EC P-256) are made here with openssl, in the run's temporary directory.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stop } from '../lib/procs.mjs'
import { freePort, startBackend, startHaproxy, startProxy } from '../lib/services.mjs'
import { fmt, median, ratio, rotate, table, target } from '../lib/stats.mjs'

/** The name every certificate here carries (checked by the client, haproxy and the proxy). */
const NAME = 'localhost'

function makeCerts(dir) {
  const ssl = (args) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  const f = (n) => join(dir, n)
  ssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      f('bench-ca.key'),
      '-out',
      f('bench-ca.crt'),
      '-days',
      '2',
    ].concat([
      '-subj',
      '/CN=bench CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]),
  )
  writeFileSync(
    f('bench-tls.ext'),
    `subjectAltName=DNS:${NAME},IP:127.0.0.1\nbasicConstraints=CA:FALSE\n`,
  )
  ssl([
    'req',
    '-new',
    ...ec,
    '-keyout',
    f('bench-tls.key'),
    '-out',
    f('bench-tls.csr'),
    '-subj',
    `/CN=${NAME}`,
  ])
  ssl(
    [
      'x509',
      '-req',
      '-in',
      f('bench-tls.csr'),
      '-CA',
      f('bench-ca.crt'),
      '-CAkey',
      f('bench-ca.key'),
    ].concat([
      '-CAcreateserial',
      '-out',
      f('bench-tls.crt'),
      '-days',
      '2',
      '-extfile',
      f('bench-tls.ext'),
    ]),
  )
  // haproxy wants the certificate and its key in one file
  writeFileSync(
    f('bench-tls.pem'),
    readFileSync(f('bench-tls.crt'), 'utf8') + readFileSync(f('bench-tls.key'), 'utf8'),
  )
  return {
    ca: f('bench-ca.crt'),
    cert: f('bench-tls.crt'),
    key: f('bench-tls.key'),
    pem: f('bench-tls.pem'),
  }
}

export async function tlsScenario(ctx) {
  const { cfg } = ctx
  const c = makeCerts(ctx.dir)
  const tls = { cert: c.cert, key: c.key }
  const be = await startBackend(ctx.root, 'backend-tls', [
    { kind: 'stream', bytes: cfg.bulkBytes, tls },
    { kind: 'hello', tls },
    { kind: 'hello', tls },
  ])
  const [stream, hello1, hello2] = be.ports
  const procs = [be.proc]
  const configs = [{ name: 'direct', ports: { bulk: [stream], conn: [hello1, hello2] } }]
  if (ctx.haproxyBin) {
    const ports = { bulk: await freePort(), conn: await freePort() }
    const ht = { pem: c.pem, ca: c.ca, name: NAME }
    const proc = await startHaproxy(ctx.haproxyBin, ctx.dir, 'haproxy-tls', [
      { name: 'bulk', port: ports.bulk, servers: [stream], tls: ht },
      { name: 'conn', port: ports.conn, servers: [hello1, hello2], tls: ht },
    ])
    procs.push(proc)
    configs.push({
      name: 'haproxy',
      ports: { bulk: [ports.bulk], conn: [ports.conn] },
      pid: proc.pid,
    })
  }
  const route = (name, backends) => ({
    name,
    url: `jdbc:hive2://${backends.map((p) => `127.0.0.1:${p}`).join(',')}/`,
    policy: 'round-robin',
    tls: { cert: c.cert, key: c.key },
    backendTls: { mode: 'on', ca: c.ca, serverName: NAME },
  })
  const bulkRoute = { ...route('tls-bulk', [stream]), listen: await freePort() }
  const connRoute = { ...route('tls-conn', [hello1, hello2]), listen: await freePort() }
  const px = await startProxy(ctx.root, ctx.dir, 'proxy-tls', { hs2: [bulkRoute, connRoute] })
  procs.push(px.proc)
  configs.push({
    name: 'hive-ha-proxy',
    ports: { bulk: [px.ports['tls-bulk']], conn: [px.ports['tls-conn']] },
    pid: px.proc.pid,
  })
  const release = ctx.addServers(procs)
  const job = { tls: { ca: c.ca, servername: NAME } }
  const runs = Object.fromEntries(configs.map((x) => [x.name, { bulk: [], conn: [] }]))
  try {
    if (!ctx.quick)
      for (const x of configs) {
        await ctx.client({ mode: 'bulk', port: x.ports.bulk[0], ...job })
        await ctx.client({ mode: 'conn', ports: x.ports.conn, n: 500, concurrency: 10, ...job })
      }
    for (let r = 0; r < ctx.reps; r++) {
      for (const x of rotate(configs, r)) {
        const m = await ctx.meter.measure(() =>
          ctx.client({ mode: 'bulk', port: x.ports.bulk[0], ...job }),
        )
        if (m.res.bytes !== cfg.bulkBytes)
          throw new Error(`${x.name}: got ${m.res.bytes} bytes, expected ${cfg.bulkBytes}`)
        const p = x.pid ? m.per.get(x.pid) : undefined
        const gib = m.res.bytes / 2 ** 30
        runs[x.name].bulk.push({
          mibs: m.res.bytes / 2 ** 20 / (m.res.ms / 1000),
          cpu: p ? p.cpu / gib : NaN,
          noisy: m.noisy,
        })
      }
      for (const x of rotate(configs, r)) {
        const n = cfg.tlsConns
        const m = await ctx.meter.measure(() =>
          ctx.client({ mode: 'conn', ports: x.ports.conn, n, concurrency: 50, ...job }),
        )
        if (m.res.errors > 0)
          throw new Error(`${x.name}: ${m.res.errors} of ${n} TLS connections failed`)
        const p = x.pid ? m.per.get(x.pid) : undefined
        runs[x.name].conn.push({
          rate: n / (m.res.ms / 1000),
          cpuUs: p ? (p.cpu * 1e6) / n : NaN,
          noisy: m.noisy,
        })
      }
      ctx.progress(
        `tls rep ${r + 1}: ${configs.map((x) => `${x.name} ${fmt(runs[x.name].bulk.at(-1).mibs)} MiB/s, ${fmt(runs[x.name].conn.at(-1).rate)} handshakes/s`).join('; ')}`,
      )
    }
  } finally {
    release()
    await Promise.all(procs.map((p) => stop(p)))
  }
  const med = (name, k, f) => median(runs[name][k].map((x) => x[f]))
  const noisy = (name, k) =>
    `${runs[name][k].filter((x) => x.noisy).length}/${runs[name][k].length}`
  const bulkRows = configs.map((x) => [
    x.name,
    fmt(med(x.name, 'bulk', 'mibs')),
    fmt(ratio(med(x.name, 'bulk', 'mibs'), med('direct', 'bulk', 'mibs')), 2),
    x.pid ? fmt(med(x.name, 'bulk', 'cpu'), 2) : '–',
    noisy(x.name, 'bulk'),
  ])
  const connRows = configs.map((x) => [
    x.name,
    fmt(med(x.name, 'conn', 'rate')),
    fmt(ratio(med(x.name, 'conn', 'rate'), med('direct', 'conn', 'rate')), 2),
    x.pid ? fmt(med(x.name, 'conn', 'cpuUs')) : '–',
    noisy(x.name, 'conn'),
  ])
  const bulkRatio = ratio(med('hive-ha-proxy', 'bulk', 'mibs'), med('haproxy', 'bulk', 'mibs'))
  const connRatio = ratio(med('hive-ha-proxy', 'conn', 'rate'), med('haproxy', 'conn', 'rate'))
  const measured = ctx.haproxyBin !== undefined
  return {
    id: 8,
    title: `TLS on both sides (client → TLS → middle → TLS, checked → backend), EC P-256, ${fmt(cfg.bulkBytes / 2 ** 20)} MiB bulk, ${fmt(cfg.tlsConns)} handshakes per run`,
    tables: [
      table(
        [
          'bulk, one connection',
          'MiB/s',
          '× direct',
          'CPU s/GiB of the middle process',
          'noisy reps',
        ],
        bulkRows,
      ),
      table(
        [
          'handshakes, 50 in flight',
          'conn/s',
          '× direct',
          'CPU µs per connection of the middle process',
          'noisy reps',
        ],
        connRows,
      ),
    ],
    ratios: [
      `bulk proxy/haproxy ${fmt(bulkRatio, 2)}`,
      `handshakes proxy/haproxy ${fmt(connRatio, 2)}`,
    ],
    notes: [
      'direct = the client speaks TLS to the backend itself (one hop); the middle processes run two TLS hops: a full handshake with the client (which resumes no session), and to the backend a resumed one where they keep its last session (haproxy ssl-reuse, hive-ha-proxy alike)',
    ],
    targets: [
      target(
        'TLS bulk vs haproxy',
        `${fmt(bulkRatio, 2)}×`,
        '≥ 0.8× haproxy',
        measured ? bulkRatio >= 0.8 : undefined,
      ),
      target(
        'TLS handshakes/s vs haproxy (50 in flight)',
        `${fmt(connRatio, 2)}×`,
        '≥ 0.7× haproxy',
        measured ? connRatio >= 0.7 : undefined,
      ),
    ],
    runs,
  }
}
