/**
 * Resumable Thrift message scanner: fed a byte stream chunk by chunk (split anywhere), it reports each
 * message's envelope and where the message ends, without buffering messages and without re-parsing
 * from a message's start. Groundwork for the Thrift-aware HMS route (design decisions 1 and 7).
 *
 * Errors are returned, never thrown; after the first error the scanner is dead and returns it again.
 */
import { BinaryEngine } from './binary.js'
import { CompactEngine } from './compact.js'
import type { MessageHeader, ScanCore, ScanError, ThriftProtocol } from './core.js'

export type { MessageHeader, ScanError, ScanErrorCode, ThriftProtocol } from './core.js'
export { MAX_NAME_BYTES } from './core.js'
export { scanReadBuffers, wasmFix, wasmUnavailable } from './binary-wasm.js'

export interface ScanEvents {
  /** the envelope (name/type/seqid) of a message has been read; called once per message */
  onHeader(h: MessageHeader): void
  /** the message ended at `end` (offset in the chunk passed to push; exclusive) */
  onEnd(end: number): void
}

export interface ThriftScannerOptions {
  protocol: ThriftProtocol
  /** a 4-byte big-endian length precedes each message (TFramedTransport) */
  framed: boolean
  /** framed: largest frame length; unframed: largest message */
  maxMessageBytes: number
  /** deepest struct/container nesting, the message's own struct counting as 1 (default 64) */
  maxDepth?: number
  /**
   * binary: windows (the rest of a pushed chunk) of at least this many bytes are walked by the
   * WebAssembly fast path, smaller ones by the JavaScript one (default WASM_FROM_BYTES; both give
   * the same results, tests pin 0 and Infinity to cover each)
   */
  wasmFrom?: number
}

export const DEFAULT_MAX_DEPTH = 64

export class ThriftScanner {
  private readonly engine: ScanCore
  private readonly framed: boolean
  private readonly max: number
  private readonly events: ScanEvents
  private consumed = 0
  /** bytes of the current frame not yet consumed; -1 while reading the frame length */
  private frameLeft = -1
  private frameHdr = 0
  private frameHdrLen = 0
  private dead: ScanError | undefined

  constructor(opts: ThriftScannerOptions, events: ScanEvents) {
    const depth = opts.maxDepth ?? DEFAULT_MAX_DEPTH
    const onHeader = (h: MessageHeader): void => events.onHeader(h)
    this.engine =
      opts.protocol === 'compact'
        ? new CompactEngine(depth, onHeader)
        : new BinaryEngine(depth, onHeader, opts.wasmFrom)
    this.framed = opts.framed
    this.max = opts.maxMessageBytes
    this.events = events
  }

  /** bytes consumed of the current, unfinished message (0 between messages); framed: includes the length */
  get pending(): number {
    return this.consumed
  }

  /** the error that killed the scanner, if any */
  get error(): ScanError | undefined {
    return this.dead
  }

  /** consume a chunk; returns undefined, or the first error (after which the scanner is dead) */
  push(chunk: Buffer): ScanError | undefined {
    if (this.dead !== undefined) return this.dead
    const len = chunk.length
    const engine = this.engine
    let pos = 0
    while (pos < len) {
      let end = len
      if (this.framed) {
        if (this.frameLeft < 0) {
          while (this.frameHdrLen < 4 && pos < len) {
            this.frameHdr = this.frameHdr * 256 + (chunk[pos++] as number)
            this.frameHdrLen++
            this.consumed++
          }
          if (this.frameHdrLen < 4) break
          const n = this.frameHdr | 0
          this.frameHdr = 0
          this.frameHdrLen = 0
          if (n < 0) return this.die('MALFORMED', `negative frame length ${n}`)
          if (n > this.max)
            return this.die('TOO_LARGE', `frame length ${n} over the limit of ${this.max} bytes`)
          if (n === 0) return this.die('MALFORMED', 'empty frame')
          this.frameLeft = n
          continue
        }
        if (len - pos > this.frameLeft) end = pos + this.frameLeft
      } else if (len - pos > this.max - this.consumed) {
        end = pos + (this.max - this.consumed)
      }
      const p = engine.run(chunk, pos, end)
      if (engine.err !== undefined) return this.die(engine.err.code, engine.err.message)
      const used = p - pos
      pos = p
      this.consumed += used
      if (this.framed) this.frameLeft -= used
      if (engine.done) {
        if (this.framed && this.frameLeft !== 0) {
          return this.die(
            'MALFORMED',
            `message ended ${this.frameLeft} bytes before the end of its frame`,
          )
        }
        this.consumed = 0
        this.frameLeft = -1
        engine.reset()
        this.events.onEnd(pos)
        continue
      }
      if (this.framed) {
        if (this.frameLeft === 0) return this.die('MALFORMED', 'frame ended inside the message')
      } else if (this.consumed >= this.max) {
        return this.die('TOO_LARGE', `message exceeds the limit of ${this.max} bytes`)
      }
    }
    return undefined
  }

  private die(code: ScanError['code'], message: string): ScanError {
    this.dead = { code, message }
    return this.dead
  }
}
