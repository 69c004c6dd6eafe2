import type { ProxySnapshot, Readiness } from './proxy.js'
import type { BackendSnapshot } from './routes/snapshot.js'
import {
  OPS_EXIT,
  adminRequest,
  describeError,
  parseAdminArgs,
  type AdminIo,
} from './admin-client.js'

/**
 * `hive-ha-proxy status`: what an operator runs first. Reads /routes and /readyz from the admin
 * API and prints routes and backends as a table. Exit codes: 0 ready, 1 not ready, 2 the admin
 * API could not be asked (with the reason).
 */

export const STATUS_HELP = `Usage: hive-ha-proxy status [--admin <url>]

Prints every route and backend of a running proxy from its admin API, and exits 0 when the
proxy is ready, 1 when it is not, 2 when the admin API cannot be reached.
  --admin <url>   admin API base URL (default http://127.0.0.1:10090, or HIVE_HA_PROXY_ADMIN_URL)
The bearer token, if the proxy requires one, is read from HIVE_HA_PROXY_ADMIN_TOKEN.
`

export type StatusIo = AdminIo

export async function runStatus(io: StatusIo): Promise<number> {
  const args = parseAdminArgs(io.argv, io.env)
  if (args.help) {
    io.stdout(STATUS_HELP)
    return OPS_EXIT.OK
  }
  const extra = args.unknown ?? args.positional[0]
  if (extra !== undefined) {
    io.stderr(`hive-ha-proxy status: unknown argument "${extra}"\n${STATUS_HELP}`)
    return OPS_EXIT.UNREACHABLE
  }
  let snap: ProxySnapshot
  let ready: Readiness
  try {
    const [routes, readyz] = await Promise.all([
      adminRequest(io, args.base, 'GET', '/routes'),
      adminRequest(io, args.base, 'GET', '/readyz'),
    ])
    if (routes.status !== 200) throw new Error(`GET /routes answered ${routes.status}`)
    snap = routes.body as ProxySnapshot
    ready = readyz.body as Readiness
  } catch (err) {
    io.stderr(
      `hive-ha-proxy status: cannot read the admin API at ${args.base}: ${describeError(err)}\n`,
    )
    return OPS_EXIT.UNREACHABLE
  }
  io.stdout(renderStatus(snap, ready, Date.now()))
  return ready.ready ? OPS_EXIT.OK : OPS_EXIT.NO
}

/** Pure: the text `status` prints. */
export function renderStatus(snap: ProxySnapshot, ready: Readiness, now: number): string {
  const out: string[] = [`proxy ${snap.state}, ${ready.ready ? 'READY' : 'NOT READY'}`]
  for (const z of snap.zookeeper)
    out.push(`zookeeper ${z.quorum}: ${z.state} (session #${z.generation})`)
  for (const r of snap.routes) {
    const why = ready.routes.find((x) => x.name === r.name)?.reasons ?? []
    const d = r.discovery
    out.push('')
    out.push(
      `${r.kind} route "${r.name}" on ${r.listen.host}:${r.listen.port}, ${r.policy}: ${why.length === 0 ? 'ready' : `NOT READY (${why.join('; ')})`}`,
    )
    out.push(
      `  discovery ${d.kind} ${d.source}: ${d.updates} reads, ${d.errors} errors${d.lastSuccessAt ? `, last read ${ago(now, d.lastSuccessAt)}` : ''}${d.lastError ? `, last error ${ago(now, d.lastError.at)}: ${d.lastError.message}` : ''}`,
    )
    out.push(
      `  connections: ${r.connections.active} live, ${r.connections.total} total, ${r.connections.failovers} failed over, ${r.connections.rejected} rejected`,
    )
    const http = 'http' in r && 'affinity' in r.http ? r.http : undefined
    if ('http' in r && !('affinity' in r.http)) {
      const n = Object.entries(r.http.requests)
      const resent = Object.values('calls' in r ? r.calls : {}).reduce((a, c) => a + c.resent, 0)
      out.push(
        `  metastore over HTTP on /${r.http.path}: ${n.reduce((a, [, c]) => a + c, 0)} requests (${n.filter(([k]) => !k.endsWith(' ok')).reduce((a, [, c]) => a + c, 0)} not ok), ${resent} reads re-sent`,
      )
    }
    if (http !== undefined) {
      const a = http.affinity
      out.push(
        `  HTTP on /${http.path}: ${a.tracked} handles tracked; routed by handle ${a.byHandle}, by cookie ${a.byCookie}, unknown handle ${a.unknownHandle}; ${a.lostSessions} lost-session answers; ${a.evictions} evicted, ${a.expired} expired`,
      )
      for (const [k, c] of Object.entries(http.tracked))
        out.push(`  ${k}: ${c.sessions} sessions, ${c.operations} operations tracked`)
    }
    const mr3 = 'mr3' in r ? r.mr3 : undefined
    if (mr3 !== undefined)
      out.push(
        `  MR3 application id (/${mr3.namespace}/appId): ${mr3.appId ?? '(none)'}${mr3.changedAt ? `, since ${ago(now, mr3.changedAt)}` : ''}`,
      )
    // a proxy of an older version answers without kerberos; only routes whose instances publish
    // their authentication (HS2 from ZooKeeper) get the AUTH column
    const k = r.kerberos
    if (k?.advice !== undefined)
      out.push(
        `  ${k.mismatch || k.mixedAuthentication ? 'KERBEROS WARNING' : 'kerberos'}: ${k.advice}`,
      )
    const auth = r.backends.some((b) => b.authentication !== undefined || b.principal !== undefined)
    // a proxy of an older version answers without probes; the column shows once a probe ran
    const probed = r.backends.some((b) => b.probe?.last !== undefined)
    const rows = r.backends.map((b) => [
      b.key,
      b.state +
        (b.ejectedUntil ? ` (${Math.ceil((b.ejectedUntil - now) / 1000)}s)` : '') +
        (b.leader ? ' leader' : ''),
      String(b.active),
      String(b.connections),
      String(b.connectFailures),
      // a proxy of an older version answers without stalls
      String(b.stalls ?? 0),
      ...(probed ? [probeCell(b.probe)] : []),
      ...(auth ? [[b.authentication, b.principal].filter((x) => x !== undefined).join(' ')] : []),
      b.lastError ?? '',
    ])
    const head = ['BACKEND', 'STATE', 'LIVE', 'TOTAL', 'FAILS', 'STALLS']
    if (probed) head.push('PROBE')
    if (auth) head.push('AUTH')
    head.push('LAST ERROR')
    out.push(...table(head, rows).map((l) => `  ${l}`))
    for (const s of r.skipped) out.push(`  skipped ${s.source}: ${s.reason}`)
    // a proxy of an older version answers without drain marks
    const m = r.drainMarks ?? { local: [], shared: undefined }
    if (m.shared !== undefined) {
      const state = m.shared.lastError
        ? `read failed ${ago(now, m.shared.lastError.at)}: ${m.shared.lastError.message}`
        : m.shared.ready
          ? 'read'
          : 'not read yet'
      out.push(
        `  drain marks shared in ZooKeeper ${m.shared.source} (${state}): ${m.shared.keys.length === 0 ? 'none' : m.shared.keys.join(', ')}`,
      )
    }
    if (m.local.length > 0) out.push(`  drain marks of this proxy only: ${m.local.join(', ')}`)
  }
  return `${out.join('\n')}\n`
}

function table(head: string[], rows: string[][]): string[] {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(width[i] ?? 0))
      .join('  ')
      .trimEnd()
  return [line(head), ...(rows.length === 0 ? ['(no backends)'] : rows.map(line))]
}

function ago(now: number, at: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000))
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`
}

/** The latest probe of a backend: `ok 3ms`, or `failed x2: why`. */
function probeCell(p: BackendSnapshot['probe']): string {
  const last = p?.last
  if (p === undefined || last === undefined) return ''
  if (last.ok) return `ok ${Math.round(last.ms)}ms`
  return `failed x${p.failStreak}${last.detail ? `: ${last.detail}` : ''}`
}
