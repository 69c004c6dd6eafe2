/**
 * Where backend reads land (measured in docs/benchmarks.md), shared by every reader in the process:
 * - Between bursts every reader reads into ONE buffer shared by all of them, so an idle
 *   connection holds no read buffer at all. Bytes read there must be taken out (`take`) inside
 *   the read callback — no other read can run before it returns — so a client write that the
 *   kernel does not take at once never points into the shared buffer.
 * - A read that brings more than a small message moves the reader to a large buffer of its own,
 *   taken from a pool of hot, reused ones: from then on bytes are used straight from it, without
 *   a copy, and large reads mean few syscalls and wake-ups per MiB.
 * - A read that does not fill the large buffer (the kernel's queue is drained) and whose bytes
 *   nobody still references hands it back to the pool (`settle`).
 * Node calls `onread.buffer` (a function) after every read and reads next into what it returns.
 */
export const SHARED_READ_BYTES = 64 * 1024
/** the large buffers of HS2 pipes (a busy connection holds one) */
export const LARGE_READ_BYTES = 256 * 1024
/** the large buffers of metastore routes, whose answers (get_partitions) run to hundreds of MiB */
export const METASTORE_READ_BYTES = 512 * 1024
/** reads smaller than this are copied into a buffer of their own (from Node's buffer pool) */
const COPY_BELOW = 4096

const shared = Buffer.allocUnsafeSlow(SHARED_READ_BYTES)

/** Where a reader's large buffers come from and go back to. */
export interface LargeBuffers {
  take(): Buffer
  /** nothing references `b` any more */
  give(b: Buffer): void
  /** writes may still point into `b`: it may be reused only once `free()` returns true */
  retire(b: Buffer, free: () => boolean): void
}

/** Heap buffers of `bytes`, up to `keep` of them kept hot; a retired one is left to the GC. */
export function heapPool(bytes: number, keep: number): LargeBuffers {
  const pool: Buffer[] = []
  return {
    take: () => pool.pop() ?? Buffer.allocUnsafeSlow(bytes),
    give: (b) => {
      if (pool.length < keep) pool.push(b)
    },
    retire: () => {},
  }
}

export const heapBuffers = heapPool(LARGE_READ_BYTES, 8)

/** for `release`: a reader whose bytes nobody references any more */
export const UNREFERENCED = (): boolean => true

/** One reader's (one backend socket's) use of the shared buffer and the pool. */
export class ReadBuffer {
  /** the next read lands in `shared`, or in this large buffer of the reader's own */
  #own: Buffer | undefined
  readonly #large: LargeBuffers

  constructor(large: LargeBuffers = heapBuffers) {
    this.#large = large
  }

  /** for `onread.buffer` */
  readonly next = (): Buffer => this.#own ?? shared

  /**
   * The `n` bytes just read into `buf`, as a Buffer that stays valid after the read callback
   * returns: copied out of the shared buffer, or a view of the reader's own buffer.
   */
  take(n: number, buf: Buffer): Buffer {
    if (buf !== shared) return n === buf.length ? buf : buf.subarray(0, n)
    if (n < COPY_BELOW) {
      const out = Buffer.allocUnsafe(n)
      buf.copy(out, 0, 0, n)
      return out
    }
    const own = this.#large.take()
    buf.copy(own, 0, 0, n)
    this.#own = own
    return own.subarray(0, n)
  }

  /**
   * After the bytes of a read were handed on. `referenced`: a write still points into them (the
   * reader must stop reading until it is flushed; its next read reuses the same buffer, free by
   * then). A large buffer that was not filled and is not referenced goes back to the pool.
   */
  settle(n: number, buf: Buffer, referenced: boolean): void {
    if (referenced || buf === shared || n >= buf.length) return
    this.#large.give(buf)
    this.#own = undefined
  }

  /**
   * The reader is done (its socket closed). `free` says when nothing references its bytes any
   * more (client writes flushed or their socket closed): its buffer goes back at once if that is
   * already so, else it is retired until then.
   */
  release(free: () => boolean): void {
    const own = this.#own
    this.#own = undefined
    if (own === undefined) return
    if (free()) this.#large.give(own)
    else this.#large.retire(own, free)
  }
}
