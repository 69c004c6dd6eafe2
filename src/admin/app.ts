import { timingSafeEqual } from 'node:crypto'
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify'
import type { Logger } from '../logger.js'
import type { DrainReply, ProxySnapshot, Readiness, ReloadResult } from '../proxy.js'
import { ConfigError, errorMessage } from '../errors.js'

/** What the admin plane reads and steers; `HiveHaProxy` implements it. */
export interface AdminTarget {
  snapshot(): ProxySnapshot
  readiness(): Readiness
  drain(route: string, backend: string, on: boolean): Promise<DrainReply>
}

export interface AdminOptions {
  target: AdminTarget
  logger: Logger
  /** bearer token; when set, every route but /healthz requires it */
  token: string | undefined
  /** re-read the configuration from its sources and apply it (SIGHUP does the same) */
  reload: () => Promise<ReloadResult>
  metrics: () => Promise<string>
  metricsContentType: string
}

/** Admin error codes, stable like the HHP_ERR_* codes of errors.ts. */
export const AdminCodes = {
  UNAUTHORIZED: 'HHP_ERR_UNAUTHORIZED',
  UNKNOWN_ROUTE: 'HHP_ERR_UNKNOWN_ROUTE',
  UNKNOWN_BACKEND: 'HHP_ERR_UNKNOWN_BACKEND',
  NOT_FOUND: 'HHP_ERR_NOT_FOUND',
  CONFIG: 'HHP_ERR_CONFIG',
  INTERNAL: 'HHP_ERR_INTERNAL',
} as const

/**
 * The admin HTTP API as a fastify instance, built without listening (the CLI listens; tests use
 * inject). Routes read the proxy's snapshot, never its internals.
 */
export function buildAdminApp(o: AdminOptions): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = o.logger.child({ component: 'admin' })
  // per-request logs would drown the proxy's own lines; failures are logged by the error handler
  const app = Fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
  })
  const expected = o.token === undefined ? undefined : Buffer.from(`Bearer ${o.token}`)

  const authorized = (header: string | undefined): boolean => {
    if (expected === undefined) return true
    const got = Buffer.from(header ?? '')
    return got.length === expected.length && timingSafeEqual(got, expected)
  }

  // Probes cannot carry a secret (a Kubernetes httpGet probe's headers are literal text), so
  // /healthz and /readyz answer without the token; /readyz then says only ready or not, and the
  // reasons (backend names, discovery state) need the token like every other route.
  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/healthz' || req.url === '/readyz') return
    if (!authorized(req.headers.authorization)) {
      await fail(
        reply,
        401,
        AdminCodes.UNAUTHORIZED,
        'missing or wrong bearer token (Authorization: Bearer <HIVE_HA_PROXY_ADMIN_TOKEN>)',
      )
    }
  })

  app.setNotFoundHandler((req, reply) =>
    fail(reply, 404, AdminCodes.NOT_FOUND, `no admin route ${req.method} ${req.url}`),
  )
  app.setErrorHandler((err, _req, reply) => {
    o.logger.error({ err: errorMessage(err) }, 'admin request failed')
    return fail(reply, 500, AdminCodes.INTERNAL, errorMessage(err))
  })

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (req, reply) => {
    const r = o.target.readiness()
    reply.code(r.ready ? 200 : 503)
    return authorized(req.headers.authorization) ? reply.send(r) : reply.send({ ready: r.ready })
  })

  app.get('/routes', async () => o.target.snapshot())

  app.get('/metrics', async (_req, reply) =>
    reply.type(o.metricsContentType).send(await o.metrics()),
  )

  for (const action of ['drain', 'undrain'] as const) {
    app.post<{ Params: { route: string; backend: string } }>(
      `/routes/:route/backends/:backend/${action}`,
      async (req, reply) => {
        const { route, backend } = req.params
        const { outcome, draining, shared, error } = await o.target.drain(
          route,
          backend,
          action === 'drain',
        )
        if (outcome === 'unknown-route')
          return fail(reply, 404, AdminCodes.UNKNOWN_ROUTE, `no route named "${route}"`)
        if (outcome === 'unknown-backend')
          return fail(
            reply,
            404,
            AdminCodes.UNKNOWN_BACKEND,
            `route "${route}" has no backend "${backend}"`,
          )
        const b = o.target
          .snapshot()
          .routes.find((r) => r.name === route)
          ?.backends.find((x) => x.key === backend)
        return {
          route,
          backend,
          draining,
          shared,
          ...(error === undefined ? {} : { sharedError: error }),
          state: b?.state,
          active: b?.active ?? 0,
        }
      },
    )
  }

  app.post('/reload', async (_req, reply) => {
    try {
      return { ok: true, ...(await o.reload()) }
    } catch (err) {
      if (err instanceof ConfigError) {
        return reply.code(400).send({
          ok: false,
          code: AdminCodes.CONFIG,
          message: 'new configuration rejected; the running one stays',
          problems: err.problems,
        })
      }
      throw err
    }
  })

  return app
}

function fail(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ code, message })
}
