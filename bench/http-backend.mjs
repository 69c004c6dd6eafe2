// HTTP-mode HiveServer2 stubs for the benchmark (scenario 9), one Node process, one node:http
// server per listener on 127.0.0.1 (each a separate "instance" with its own sessions):
//   node bench/http-backend.mjs '{"listeners":2,"path":"cliservice"}'
// Every POST to /<path> is one TCLIService call (strict binary Thrift, bench/lib/hs2-msg.mjs):
//   OpenSession       a fresh session handle (16-byte guid and secret), protocol V11
//   ExecuteStatement  a fresh operation handle, if the session is this instance's
//   FetchResults      16 rows of one string column (~1 KiB), if the operation is this instance's
//   CloseOperation / CloseSession   forget them
// A handle this instance did not hand out gets ERROR_STATUS "Invalid SessionHandle" /
// "Invalid OperationHandle", as HiveServer2 answers: the bench client fails on it, so a path that
// sends a session's calls to the wrong instance cannot go unnoticed. Keep-alive is held for an
// hour (Jetty's idle time is configurable; the bench wants no closes mid-run).
// Prints one JSON line {"ports":[...]} once listening; exits when stdin closes (its parent died).
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import {
  CALL,
  STATUS,
  decode,
  executeStatementReply,
  fetchResultsReply,
  handleOf,
  openSessionReply,
  statusReply,
} from './lib/hs2-msg.mjs'

const cfg = JSON.parse(process.argv[2] ?? '{}')
const path = `/${cfg.path ?? 'cliservice'}`
/** operations kept per instance at most (the bench never closes them between calls): oldest go first */
const MAX_OPS = 500_000

function instance() {
  const sessions = new Map() // guid hex -> true
  const ops = new Map() // guid hex -> session guid hex
  const fresh = () => {
    const b = randomBytes(32)
    return { guid: b.subarray(0, 16), secret: b.subarray(16) }
  }
  /** The reply to one call, or undefined for a body that is not one. */
  return (body) => {
    const m = decode(body)
    if (m.type !== CALL) return undefined
    const req = m.body[1] ?? {}
    const h = handleOf(req[1])
    const key = h?.guid.toString('hex')
    switch (m.name) {
      case 'OpenSession': {
        const s = fresh()
        sessions.set(s.guid.toString('hex'), true)
        return openSessionReply(m.seqid, s)
      }
      case 'ExecuteStatement': {
        if (key === undefined || !sessions.has(key))
          return statusReply(m.name, m.seqid, STATUS.ERROR, `Invalid SessionHandle: ${key}`)
        const op = fresh()
        ops.set(op.guid.toString('hex'), key)
        if (ops.size > MAX_OPS) ops.delete(ops.keys().next().value)
        return executeStatementReply(m.seqid, op)
      }
      case 'FetchResults':
        if (key === undefined || !ops.has(key))
          return statusReply(m.name, m.seqid, STATUS.ERROR, `Invalid OperationHandle: ${key}`)
        return fetchResultsReply(m.seqid)
      case 'CloseOperation':
        if (key === undefined || !ops.delete(key))
          return statusReply(m.name, m.seqid, STATUS.ERROR, `Invalid OperationHandle: ${key}`)
        return statusReply(m.name, m.seqid)
      case 'CloseSession':
        if (key === undefined || !sessions.delete(key))
          return statusReply(m.name, m.seqid, STATUS.ERROR, `Invalid SessionHandle: ${key}`)
        return statusReply(m.name, m.seqid)
      default:
        return statusReply(m.name, m.seqid, STATUS.ERROR, `not in the bench stub: ${m.name}`)
    }
  }
}

function serve(answer) {
  return (req, res) => {
    const url = req.url ?? '/'
    if (url !== path && !url.startsWith(`${path}?`) && !url.startsWith(`${path}/`)) {
      res.writeHead(404).end()
      return
    }
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      let reply
      try {
        reply = answer(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
      } catch (e) {
        process.stderr.write(`http backend: ${e.message}\n`)
      }
      if (reply === undefined) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('not a TCLIService call\n')
        return
      }
      res.writeHead(200, { 'content-type': 'application/x-thrift', 'content-length': reply.length })
      res.end(reply)
    })
  }
}

const n = cfg.listeners ?? 2
const ports = await Promise.all(
  Array.from(
    { length: n },
    () =>
      new Promise((resolve, reject) => {
        const srv = http.createServer(
          { noDelay: true, keepAliveTimeout: 3_600_000 },
          serve(instance()),
        )
        srv.keepAliveTimeout = 3_600_000
        srv.on('error', reject)
        srv.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve(srv.address().port))
      }),
  ),
)
process.stdout.write(`${JSON.stringify({ ports })}\n`)
process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
