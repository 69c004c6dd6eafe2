/**
 * The Thrift message inside an HTTP body, for an HS2 HTTP route that reads handles on the way:
 * gzip bodies are decoded as far as needed (never re-encoded: the peer gets the bytes as sent),
 * and an answer's handle is read from its first bytes as they stream by.
 */
import zlib from 'node:zlib'
import { readHs2Response, type Hs2Handle } from '../thrift/hs2-handles.js'

/** Bytes of a response read for its handle at most (the handle follows a short TStatus). */
const RESPONSE_PREFIX = 64 * 1024
/** Compressed bytes of a request decoded for its handle at most (the handle comes first). */
const REQUEST_PREFIX = 16 * 1024

export function isGzip(v: string | string[] | undefined): boolean {
  return typeof v === 'string' && v.trim().toLowerCase() === 'gzip'
}

/** The decoded start of a gzip request body: enough for its method and handle. */
export function requestPrefix(body: Buffer): Buffer {
  return gunzipPrefix(body.subarray(0, REQUEST_PREFIX))
}

/** As much of a gzip stream's start as decodes (a truncated stream is not an error here). */
function gunzipPrefix(b: Buffer): Buffer {
  try {
    return zlib.gunzipSync(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
  } catch {
    return Buffer.alloc(0)
  }
}

/**
 * Reads the handle a response hands out from its first bytes, as they stream by: at most
 * RESPONSE_PREFIX bytes are kept, and a one-chunk answer (the common case) is read in place.
 */
export class HandleLearner {
  done = false
  readonly #gzip: boolean
  #chunks: Buffer[] = []
  #length = 0

  constructor(gzip: boolean) {
    this.#gzip = gzip
  }

  /** The handle once the prefix read to its end; undefined before, or when there is none. */
  feed(chunk: Buffer): Hs2Handle | undefined {
    this.#chunks.push(chunk)
    this.#length += chunk.length
    const all = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#length)
    const got = readHs2Response(this.#gzip ? gunzipPrefix(all) : all)
    if (got.state === 'done') {
      this.#stop()
      return got.handle
    }
    if (got.state === 'bad' || this.#length >= RESPONSE_PREFIX) this.#stop()
    return undefined
  }

  #stop(): void {
    this.done = true
    this.#chunks = []
  }
}
