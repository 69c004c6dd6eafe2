/**
 * TCLIService messages as bytes, made and read by hive-driver's generated code on the thrift copy it
 * resolves (hs2-stub.ts explains why that copy): calls as its Client writes them, replies as its
 * Processor writes them, and replies decoded as its Client reads them.
 */
import { createRequire } from 'node:module'
import hive from 'hive-driver'

const require = createRequire(import.meta.url)

interface Transport {
  flush(): void
}
interface TransportClass {
  new (buffer?: Buffer, onFlush?: (msg: Buffer) => void): Transport
  receiver(cb: (t: Transport) => void): (data: Buffer) => void
}
interface Protocol {
  readMessageBegin(): { fname: string; mtype: number; rseqid: number }
}
type ProtocolClass = new (t: Transport) => Protocol
interface ThriftRuntime {
  TBufferedTransport: TransportClass
  TBinaryProtocol: ProtocolClass
}
export const thrift = require(
  require.resolve('thrift', { paths: [require.resolve('hive-driver')] }),
) as ThriftRuntime

type Generated = Record<string, (...args: unknown[]) => unknown>
interface TCLIServiceModule {
  Client: new (
    output: Transport,
    pClass: ProtocolClass,
  ) => Generated & { _seqid: number; _reqs: Record<number, unknown> }
  Processor: new (handler: object) => { process(input: Protocol, output: Protocol): void }
}
const TCLIService = hive.thrift.TCLIService as unknown as TCLIServiceModule
// biome-ignore lint/suspicious/noExplicitAny: generated structs are untyped in hive-driver
export const T: any = hive.thrift.TCLIService_types

/** The bytes hive-driver's Client writes for `method(req)` with `seqid`. */
export function encodeHs2Call(method: string, req: unknown, seqid = 1): Buffer {
  const parts: Buffer[] = []
  const out = new thrift.TBufferedTransport(undefined, (msg) => parts.push(msg))
  const client = new TCLIService.Client(out, thrift.TBinaryProtocol)
  client._seqid = seqid
  const send = client[`send_${method}`]
  if (send === undefined) throw new Error(`no method ${method}`)
  send.call(client, req)
  return Buffer.concat(parts)
}

/** The bytes hive-driver's Processor writes when its handler answers `method` with `resp` (or fails with `err`). */
export function encodeHs2Reply(method: string, resp: unknown, seqid = 1, err?: Error): Buffer {
  // a call with an empty args struct: the handler ignores the request
  const name = Buffer.from(method)
  const call = Buffer.alloc(12 + name.length + 1)
  call.writeUInt32BE(0x80010001, 0)
  call.writeInt32BE(name.length, 4)
  name.copy(call, 8)
  call.writeInt32BE(seqid, 8 + name.length)
  const parts: Buffer[] = []
  const out = new thrift.TBufferedTransport(undefined, (msg) => parts.push(msg))
  const handler = {
    [method]: (_req: unknown, reply: (e: Error | null, r?: unknown) => void) =>
      err === undefined ? reply(null, resp) : reply(err),
  }
  const processor = new TCLIService.Processor(handler)
  thrift.TBufferedTransport.receiver((t) => {
    processor.process(new thrift.TBinaryProtocol(t), new thrift.TBinaryProtocol(out))
  })(call)
  return Buffer.concat(parts)
}

/** A reply decoded as hive-driver's Client reads it: the Resp, or the error it reports. */
export function decodeHs2Reply(
  method: string,
  bytes: Buffer,
): { resp?: Record<string, unknown>; error?: unknown } {
  let result: { resp?: Record<string, unknown>; error?: unknown } = {}
  thrift.TBufferedTransport.receiver((t) => {
    const input = new thrift.TBinaryProtocol(t)
    const head = input.readMessageBegin()
    const client = new TCLIService.Client(new thrift.TBufferedTransport(), thrift.TBinaryProtocol)
    client._reqs[head.rseqid] = (error: unknown, resp?: Record<string, unknown>) => {
      result = error === null || error === undefined ? { resp: resp ?? {} } : { error }
    }
    const recv = client[`recv_${method}`]
    if (recv === undefined) throw new Error(`no method ${method}`)
    recv.call(client, input, head.mtype, head.rseqid)
  })(bytes)
  return result
}

export const handleId = (guid: Buffer): unknown =>
  new T.THandleIdentifier({ guid, secret: Buffer.alloc(16, 7) })
export const sessionHandle = (guid: Buffer): unknown =>
  new T.TSessionHandle({ sessionId: handleId(guid) })
export const operationHandle = (guid: Buffer): unknown =>
  new T.TOperationHandle({
    operationId: handleId(guid),
    operationType: T.TOperationType.EXECUTE_STATEMENT,
    hasResultSet: true,
  })
export const okStatus = (): unknown => new T.TStatus({ statusCode: T.TStatusCode.SUCCESS_STATUS })
