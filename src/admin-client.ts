/**
 * What the operator commands (`status`, `drain`, `undrain`) share: the admin API's address and
 * token, and one bounded HTTP request with errors an operator can act on.
 */

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:10090'
const TIMEOUT_MS = 5000

export interface AdminIo {
  argv: string[]
  env: Record<string, string | undefined>
  stdout: (s: string) => void
  stderr: (s: string) => void
  fetch: typeof fetch
}

/** Exit codes of the operator commands. */
export const OPS_EXIT = { OK: 0, NO: 1, UNREACHABLE: 2 } as const

export interface AdminArgs {
  base: string
  /** arguments that are not options, in order */
  positional: string[]
  help: boolean
  /** an option this command does not know */
  unknown: string | undefined
}

/** `--admin <url>` / `--admin=<url>` (else HIVE_HA_PROXY_ADMIN_URL, else the default), `-h`. */
export function parseAdminArgs(argv: readonly string[], env: AdminIo['env']): AdminArgs {
  const out: AdminArgs = {
    base: env.HIVE_HA_PROXY_ADMIN_URL ?? DEFAULT_ADMIN_URL,
    positional: [],
    help: false,
    unknown: undefined,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--help' || a === '-h') out.help = true
    else if (a === '--admin' && argv[i + 1] !== undefined) out.base = argv[++i] as string
    else if (a.startsWith('--admin=')) out.base = a.slice('--admin='.length)
    else if (a.startsWith('-')) out.unknown ??= a
    else out.positional.push(a)
  }
  out.base = out.base.replace(/\/+$/, '')
  return out
}

/**
 * One request to the admin API, with the bearer token from HIVE_HA_PROXY_ADMIN_TOKEN. Resolves
 * with the status and parsed JSON body; rejects with a message naming the cause (unreachable,
 * timed out, 401 with what to set).
 */
export async function adminRequest(
  io: AdminIo,
  base: string,
  method: 'GET' | 'POST',
  path: string,
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {}
  if (io.env.HIVE_HA_PROXY_ADMIN_TOKEN)
    headers.authorization = `Bearer ${io.env.HIVE_HA_PROXY_ADMIN_TOKEN}`
  const r = await io.fetch(`${base}${path}`, {
    method,
    headers,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  })
  if (r.status === 401)
    throw new Error("401 unauthorized: set HIVE_HA_PROXY_ADMIN_TOKEN to the proxy's admin token")
  const text = await r.text()
  let body: unknown
  try {
    body = text === '' ? undefined : JSON.parse(text)
  } catch {
    throw new Error(`${method} ${path} answered ${r.status} with a body that is not JSON`)
  }
  return { status: r.status, body }
}

export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
  return `${err.message}${cause}`
}
