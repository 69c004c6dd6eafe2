/**
 * The binary scanner's fast path (binary.ts `fast`) as a hand-written WebAssembly function
 * (binary-scan.wat beside this file, assembled with wabt by `npm run build`): the
 * same walk over field and element headers, about twice as fast as the JavaScript one (no bounds
 * checks per byte, no deoptimization guards; measured in docs/benchmarks.md). The engine uses it for
 * windows of WASM_FROM_BYTES or more and for windows that already lie in wasm memory; small heap
 * windows stay in JavaScript, where the copy and the call would cost more than they save.
 *
 * Contract, identical to the JavaScript fast path so the engine cannot tell them apart: called at a
 * field or element boundary with the engine's explicit stack, it skips every whole field and element
 * that lies in the window and returns
 *   0 when the message's outermost struct ended (`done`),
 *   1 when it stopped at a field header cut by the window's end or not valid (`atField`),
 *   2 when the value of type `vt` at `p` does not fit, looks wrong, or would nest too deep
 *     (the state machine takes that value: `startValue(vt)`),
 * with the new position and depth.
 *
 * Memory (one instance per process; it never grows, so views on it stay valid): the stack at fixed
 * offsets (kind, t1, t2 as bytes, left as u32: a map's 2n is below 2^32), the per-type tables, a
 * scratch area a window is copied into, and read buffers (`scanReadBuffers`). A window that lies
 * in one of those read buffers is walked where it is: in the proxy, copying each read into the
 * scratch area cost about 0.1 CPU-s/GiB (measured), a quarter of the walk.
 */
import { existsSync, readFileSync } from 'node:fs'
import { heapPool, METASTORE_READ_BYTES, type LargeBuffers } from '../net/read-buffer.js'

const KIND = 0
const T1 = 256
const T2 = 512
const LEFT = 1024
const CLASS = 2048
const SIZE = 2304
const SCRATCH = 4096
/** bytes of a window copied at once; a larger window is scanned in slices of this size */
const SCRATCH_BYTES = 256 * 1024
const SLOTS = SCRATCH + SCRATCH_BYTES
/** read buffers in wasm memory; busy readers beyond these get heap buffers (and the copy) */
export const WASM_READ_BUFFERS = 16
const PAGES = Math.ceil((SLOTS + WASM_READ_BUFFERS * METASTORE_READ_BYTES) / 65536)
/** deepest stack the fixed stack area holds */
export const WASM_MAX_DEPTH = 255

interface Exports {
  mem: { buffer: ArrayBuffer }
  fast(p: number, end: number, depth: number, max: number): number
  vt: { value: number }
  p: { value: number }
  depth: { value: number }
}

export class WasmFastPath {
  /** scanner position after `scan`, in the caller's buffer */
  p = 0
  /** stack depth after `scan` */
  depth = 0
  /** the type handed back with code 2 */
  vt = 0
  readonly #x: Exports
  readonly #memory: ArrayBuffer
  readonly #mem: Uint8Array
  readonly #left: Uint32Array
  /** the engine whose window is in the scratch area, and the part of its buffer copied there */
  #owner: object | undefined
  #base = 0
  #lim = 0

  constructor(x: Exports) {
    this.#x = x
    this.#memory = x.mem.buffer
    this.#mem = new Uint8Array(this.#memory)
    this.#left = new Uint32Array(this.#memory, LEFT, WASM_MAX_DEPTH + 1)
  }

  /** the scanner's per-type tables (binary.ts owns them); returns this */
  withTables(classes: Uint8Array, sizes: Uint8Array): this {
    this.#mem.set(classes.subarray(0, 256), CLASS)
    this.#mem.set(sizes.subarray(0, 256), SIZE)
    return this
  }

  /** whether `buf` lies in this instance's memory (then it is walked in place) */
  contains(buf: Buffer): boolean {
    return buf.buffer === this.#memory
  }

  /** the read buffers in wasm memory, as views that never detach */
  readBuffers(): Buffer[] {
    return Array.from({ length: WASM_READ_BUFFERS }, (_, i) =>
      Buffer.from(this.#memory, SLOTS + i * METASTORE_READ_BYTES, METASTORE_READ_BYTES),
    )
  }

  /** whether `owner`'s current window is in the scratch area at `p` */
  holds(owner: object, p: number): boolean {
    return this.#owner === owner && p >= this.#base && p < this.#lim
  }

  /** `owner`'s window changed (a new `run`): what was copied is stale */
  forget(owner: object): void {
    if (this.#owner === owner) this.#owner = undefined
  }

  /**
   * Run the fast path on buf[p, end) for `owner` with its stack (read before, written back after).
   * Returns the code (see the top of this module); results in `p`, `depth`, `vt`.
   */
  scan(
    owner: object,
    buf: Buffer,
    p: number,
    end: number,
    depth: number,
    max: number,
    kind: Uint8Array,
    left: Float64Array,
    t1: Uint8Array,
    t2: Uint8Array,
  ): number {
    const mem = this.#mem
    let delta: number
    let lim = end
    if (this.contains(buf)) delta = buf.byteOffset
    else {
      if (!this.holds(owner, p)) {
        this.#lim = end - p > SCRATCH_BYTES ? p + SCRATCH_BYTES : end
        mem.set(buf.subarray(p, this.#lim), SCRATCH)
        this.#owner = owner
        this.#base = p
      }
      delta = SCRATCH - this.#base
      lim = this.#lim
    }
    const wl = this.#left
    for (let i = 0; i < depth; i++) {
      mem[KIND + i] = kind[i] as number
      mem[T1 + i] = t1[i] as number
      mem[T2 + i] = t2[i] as number
      wl[i] = left[i] as number
    }
    const x = this.#x
    const code = x.fast(p + delta, lim + delta, depth, max)
    const d = x.depth.value
    for (let i = 0; i < d; i++) {
      kind[i] = mem[KIND + i] as number
      t1[i] = mem[T1 + i] as number
      t2[i] = mem[T2 + i] as number
      left[i] = wl[i] as number
    }
    this.p = x.p.value - delta
    this.depth = d
    this.vt = x.vt.value
    return code
  }
}

let instance: WasmFastPath | undefined
let tried = false
let unavailable: string | undefined

/**
 * The assembled module (`npm run build` turns binary-scan.wat into binary-scan.wasm under dist/):
 * beside this file when it runs from dist/thrift/; in dist/ seen from src/ when the TypeScript runs
 * directly (the tests) and from dist/chunks/ in the bundle (scripts/bundle.mjs); under dist/thrift/
 * seen from the bundle's entry, should this code ever land there.
 */
const WASM_FILES = [
  new URL('./binary-scan.wasm', import.meta.url),
  new URL('../../dist/thrift/binary-scan.wasm', import.meta.url),
  new URL('./thrift/binary-scan.wasm', import.meta.url),
]

/** the layout constants the module exports, each of which must equal this file's */
const LAYOUT: Record<string, number> = { T1, T2, LEFT, CLASS, SIZE }

interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> }
}

/** why `x` cannot be driven by this file (a module assembled from another layout), or undefined */
function layoutMismatch(x: Record<string, unknown>): string | undefined {
  for (const [name, want] of Object.entries(LAYOUT)) {
    const got = (x[`layout_${name}`] as { value?: unknown } | undefined)?.value
    if (got !== want)
      return `binary-scan.wasm puts ${name} at ${String(got)}, this build at ${want}`
  }
  const bytes = (x['mem'] as { buffer?: ArrayBuffer } | undefined)?.buffer?.byteLength
  if (bytes !== PAGES * 65536)
    return `binary-scan.wasm has ${String(bytes)} bytes of memory, this build needs ${PAGES * 65536}`
  return undefined
}

function instantiate(): WasmFastPath | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly
  if (api === undefined) {
    unavailable = 'this Node has no WebAssembly (--jitless?)'
    return undefined
  }
  const file = WASM_FILES.find((f) => existsSync(f))
  if (file === undefined) {
    unavailable = 'binary-scan.wasm is missing (npm run build assembles it into dist/)'
    return undefined
  }
  // Trap: instantiating reserves address space for the memory's guard regions (about 10 GiB, never
  // resident) while V8's trap handler does the bound checks; under `ulimit -v` of a few GiB that
  // fails with "Out of memory". The scanner then runs on its JavaScript fast path rather than the
  // process failing (wasmFix says what to change). Node 24.19+ and 26 turn the trap handler off at
  // start when the address space cannot hold one such reservation (nodejs/node#62132): wasm then
  // checks bounds inline, needs no reservation, and instantiating succeeds under the same limit.
  try {
    const x = new api.Instance(new api.Module(readFileSync(file)), {}).exports
    unavailable = layoutMismatch(x)
    return unavailable === undefined ? new WasmFastPath(x as unknown as Exports) : undefined
  } catch (err) {
    unavailable = err instanceof Error ? err.message : String(err)
  }
  return undefined
}

/**
 * The process's instance, created on first use (a process without metastore routes never pays
 * for it: about 3 MiB and the compile); undefined without WebAssembly (then JavaScript only).
 */
export function wasmFastPath(): WasmFastPath | undefined {
  if (!tried) {
    tried = true
    instance = instantiate()
  }
  return instance
}

/** Why the process runs without the wasm fast path; undefined when it has it. */
export function wasmUnavailable(): string | undefined {
  wasmFastPath()
  return unavailable
}

/**
 * What an operator can change so the wasm fast path comes back, for a reason from wasmUnavailable;
 * undefined when there is nothing to suggest.
 */
export function wasmFix(reason: string): string | undefined {
  if (/out of memory|could not allocate/i.test(reason))
    return 'the address space is limited (ulimit -v, LimitAS=): raise the limit, or start node with --disable-wasm-trap-handler (also in NODE_OPTIONS); Node 24.19+ and 26 do that by themselves when the limit is too small'
  if (reason.includes('no WebAssembly')) return 'run node without --jitless'
  if (reason.includes('binary-scan.wasm'))
    return 'npm run build (it assembles dist/thrift/binary-scan.wasm)'
  return undefined
}

/** beyond the wasm read buffers */
const heapScanBuffers = heapPool(METASTORE_READ_BYTES, 4)

/**
 * Large read buffers (METASTORE_READ_BYTES) for sockets whose bytes the scanner walks (the
 * metastore route's backends): the ones in wasm memory first, then heap ones. A retired wasm
 * buffer is reused only once its `free()` says so; those are checked when no other is left.
 */
export class ScanReadBuffers implements LargeBuffers {
  /** the wasm buffers not handed out; filled on first use */
  #free: Buffer[] | undefined
  readonly #retired: { b: Buffer; free: () => boolean }[] = []
  readonly #fast: () => WasmFastPath | undefined

  constructor(fast: () => WasmFastPath | undefined) {
    this.#fast = fast
  }

  /** the wasm buffers not handed out (creating the instance on first use) */
  #wasmFree(): Buffer[] {
    this.#free ??= this.#fast()?.readBuffers() ?? []
    return this.#free
  }

  take(): Buffer {
    const b = this.#wasmFree().pop()
    if (b !== undefined) return b
    const i = this.#retired.findIndex((r) => r.free())
    if (i >= 0) return (this.#retired.splice(i, 1)[0] as { b: Buffer }).b
    return heapScanBuffers.take()
  }

  give(b: Buffer): void {
    if (this.#fast()?.contains(b) === true) this.#wasmFree().push(b)
    else heapScanBuffers.give(b)
  }

  retire(b: Buffer, free: () => boolean): void {
    if (this.#fast()?.contains(b) === true) this.#retired.push({ b, free })
  }

  /** wasm buffers ready to hand out, and retired ones (for tests) */
  get counts(): { free: number; retired: number } {
    return { free: this.#wasmFree().length, retired: this.#retired.length }
  }
}

export const scanReadBuffers = new ScanReadBuffers(wasmFastPath)
