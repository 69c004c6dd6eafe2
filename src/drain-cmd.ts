import {
  OPS_EXIT,
  adminRequest,
  describeError,
  parseAdminArgs,
  type AdminIo,
} from './admin-client.js'

/**
 * `hive-ha-proxy drain|undrain <route> <backend>`: the admin API's drain for an operator's shell.
 * Exit codes: 0 done, 1 unknown route or backend, 2 the admin API could not be asked.
 */

export const drainHelp = (
  verb: 'drain' | 'undrain',
): string => `Usage: hive-ha-proxy ${verb} <route> <backend host:port> [--admin <url>]

${verb === 'drain' ? 'Stops new connections to a backend; live ones continue.' : 'Lets a drained backend take new connections again.'} On a route whose backends come
from ZooKeeper the mark is shared by every proxy on that registry; otherwise it applies to the
proxy asked. Exits 0 when done, 1 for an unknown route or backend, 2 when the admin API cannot
be reached. \`hive-ha-proxy status\` lists routes and backends.
  --admin <url>   admin API base URL (default http://127.0.0.1:10090, or HIVE_HA_PROXY_ADMIN_URL)
The bearer token, if the proxy requires one, is read from HIVE_HA_PROXY_ADMIN_TOKEN.
`

interface DrainAnswer {
  draining?: boolean
  shared?: boolean
  sharedError?: string
  state?: string
  active?: number
  code?: string
  message?: string
}

export async function runDrain(io: AdminIo, verb: 'drain' | 'undrain'): Promise<number> {
  const args = parseAdminArgs(io.argv, io.env)
  const help = drainHelp(verb)
  if (args.help) {
    io.stdout(help)
    return OPS_EXIT.OK
  }
  const [route, backend, extra] = args.positional
  if (
    args.unknown !== undefined ||
    route === undefined ||
    backend === undefined ||
    extra !== undefined
  ) {
    const why =
      args.unknown !== undefined
        ? `unknown option "${args.unknown}"`
        : extra !== undefined
          ? `unexpected argument "${extra}"`
          : 'a route and a backend are required'
    io.stderr(`hive-ha-proxy ${verb}: ${why}\n${help}`)
    return OPS_EXIT.UNREACHABLE
  }
  let r: { status: number; body: unknown }
  try {
    r = await adminRequest(
      io,
      args.base,
      'POST',
      `/routes/${encodeURIComponent(route)}/backends/${encodeURIComponent(backend)}/${verb}`,
    )
  } catch (err) {
    io.stderr(
      `hive-ha-proxy ${verb}: cannot reach the admin API at ${args.base}: ${describeError(err)}\n`,
    )
    return OPS_EXIT.UNREACHABLE
  }
  const a = (r.body ?? {}) as DrainAnswer
  if (r.status === 404) {
    io.stderr(`hive-ha-proxy ${verb}: ${a.code ?? 'not found'}: ${a.message ?? ''}\n`)
    return OPS_EXIT.NO
  }
  if (r.status !== 200) {
    io.stderr(
      `hive-ha-proxy ${verb}: the admin API answered ${r.status}: ${a.code ?? ''} ${a.message ?? ''}\n`,
    )
    return OPS_EXIT.UNREACHABLE
  }
  const scope = a.shared
    ? 'shared through ZooKeeper with every proxy on this registry'
    : a.sharedError
      ? `on this proxy only: ${a.sharedError}`
      : 'on this proxy'
  const live = a.active ?? 0
  io.stdout(
    `route "${route}": ${backend} ${a.draining ? 'draining' : 'not draining'} (${scope}); state ${a.state ?? 'unknown'}, ${live} live connection${live === 1 ? '' : 's'}\n`,
  )
  return OPS_EXIT.OK
}
