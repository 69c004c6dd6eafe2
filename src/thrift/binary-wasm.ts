/**
 * The binary scanner's fast path (binary.ts `fast`) as a hand-written WebAssembly function: the
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
import { heapPool, METASTORE_READ_BYTES, type LargeBuffers } from '../net/read-buffer.js'
import { instantiateWat } from '../wasm/wat.js'

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

// Class codes as in binary.ts: 1 fixed size, 2 string, 3 struct, 4 map, 5 list/set; stack kinds
// as in core.ts: 1 struct, 2 list/set, 3 map.
const WAT = `
(module
  (memory (export "mem") ${PAGES} ${PAGES})
  (global $code (mut i32) (i32.const 0))
  (global $vt (export "vt") (mut i32) (i32.const 0))
  (global $gp (export "p") (mut i32) (i32.const 0))
  (global $gd (export "depth") (mut i32) (i32.const 0))
  (func $fast (export "fast") (param $p i32) (param $end i32) (param $depth i32) (param $max i32) (result i32)
    (local $d i32) (local $t i32) (local $c i32) (local $q i32) (local $n i32) (local $l i32) (local $k i32) (local $kt i32)
    (local $fk i32) (local $fv i32) (local $mk i32) (local $mv i32)
    (block $ret
    (loop $outer
      (local.set $d (i32.sub (local.get $depth) (i32.const 1)))
      (if (i32.lt_s (local.get $d) (i32.const 0)) (then (global.set $code (i32.const 0)) (br $ret)))
      (block $value
        (if (i32.eq (i32.load8_u (local.get $d)) (i32.const 1))
          (then
            (loop $fields
              (if (i32.gt_s (i32.add (local.get $p) (i32.const 3)) (local.get $end))
                (then
                  (if (i32.lt_s (local.get $p) (local.get $end))
                    (then (if (i32.eqz (i32.load8_u (local.get $p)))
                      (then (local.set $p (i32.add (local.get $p) (i32.const 1))) (local.set $depth (local.get $d)) (br $outer)))))
                  (global.set $code (i32.const 1)) (br $ret)))
              (local.set $t (i32.load8_u (local.get $p)))
              (local.set $c (i32.load8_u offset=${CLASS} (local.get $t)))
              (if (i32.eq (local.get $c) (i32.const 1))
                (then
                  (local.set $q (i32.add (i32.add (local.get $p) (i32.const 3)) (i32.load8_u offset=${SIZE} (local.get $t))))
                  (if (i32.le_s (local.get $q) (local.get $end)) (then (local.set $p (local.get $q)) (br $fields))))
                (else (if (i32.eq (local.get $c) (i32.const 2))
                  (then
                    (if (i32.le_s (i32.add (local.get $p) (i32.const 7)) (local.get $end))
                      (then
                        (local.set $n (i32.load_be (i32.add (local.get $p) (i32.const 3))))
                        (if (i32.and (i32.ge_s (local.get $n) (i32.const 0))
                                     (i32.le_s (local.get $n) (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 7))))
                          (then (local.set $p (i32.add (i32.add (local.get $p) (i32.const 7)) (local.get $n))) (br $fields))))))
                  (else (if (i32.eqz (local.get $t))
                    (then (local.set $p (i32.add (local.get $p) (i32.const 1))) (local.set $depth (local.get $d)) (br $outer))
                    (else (if (i32.eqz (local.get $c)) (then (global.set $code (i32.const 1)) (br $ret)))))))))
              (local.set $p (i32.add (local.get $p) (i32.const 3)))
              (br $value)))
          (else
            (local.set $l (i32.load offset=${LEFT} (i32.shl (local.get $d) (i32.const 2))))
            (local.set $k (i32.load8_u (local.get $d)))
            (local.set $kt (i32.load8_u offset=${T1} (local.get $d)))
            (if (i32.eq (i32.load8_u offset=${CLASS} (local.get $kt)) (i32.const 2))
              (then (if (i32.or (i32.eq (local.get $k) (i32.const 2))
                                (i32.eq (i32.load8_u offset=${CLASS} (i32.load8_u offset=${T2} (local.get $d))) (i32.const 2)))
                (then
                  (block $sb (loop $sl
                    (br_if $sb (i32.eqz (local.get $l)))
                    (br_if $sb (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $end)))
                    (local.set $n (i32.load_be (local.get $p)))
                    (br_if $sb (i32.lt_s (local.get $n) (i32.const 0)))
                    (br_if $sb (i32.gt_s (local.get $n) (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 4))))
                    (local.set $p (i32.add (i32.add (local.get $p) (i32.const 4)) (local.get $n)))
                    (local.set $l (i32.sub (local.get $l) (i32.const 1)))
                    (br $sl)))))))
            (if (i32.eqz (local.get $l))
              (then (i32.store offset=${LEFT} (i32.shl (local.get $d) (i32.const 2)) (i32.const 0))
                    (local.set $depth (local.get $d)) (br $outer)))
            (i32.store offset=${LEFT} (i32.shl (local.get $d) (i32.const 2)) (i32.sub (local.get $l) (i32.const 1)))
            (local.set $t (select (local.get $kt) (i32.load8_u offset=${T2} (local.get $d))
                            (i32.or (i32.eq (local.get $k) (i32.const 2)) (i32.eqz (i32.and (local.get $l) (i32.const 1))))))
            (br $value))))
      ;; a value of type $t starts at $p
      (local.set $c (i32.load8_u offset=${CLASS} (local.get $t)))
      (block $slow
        (if (i32.eq (local.get $c) (i32.const 1)) (then
          (local.set $q (i32.add (local.get $p) (i32.load8_u offset=${SIZE} (local.get $t))))
          (if (i32.le_s (local.get $q) (local.get $end)) (then (local.set $p (local.get $q)) (br $outer)))
          (br $slow)))
        (if (i32.eq (local.get $c) (i32.const 2)) (then
          (if (i32.le_s (i32.add (local.get $p) (i32.const 4)) (local.get $end)) (then
            (local.set $n (i32.load_be (local.get $p)))
            (if (i32.and (i32.ge_s (local.get $n) (i32.const 0))
                         (i32.le_s (local.get $n) (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 4))))
              (then (local.set $p (i32.add (i32.add (local.get $p) (i32.const 4)) (local.get $n))) (br $outer)))))
          (br $slow)))
        (if (i32.eq (local.get $c) (i32.const 3)) (then
          (if (i32.lt_s (local.get $depth) (local.get $max)) (then
            (i32.store8 (local.get $depth) (i32.const 1))
            (local.set $depth (i32.add (local.get $depth) (i32.const 1))) (br $outer)))
          (br $slow)))
        (if (i32.eq (local.get $c) (i32.const 4)) (then
          (if (i32.le_s (i32.add (local.get $p) (i32.const 6)) (local.get $end)) (then
            (local.set $mk (i32.load8_u (local.get $p)))
            (local.set $mv (i32.load8_u offset=1 (local.get $p)))
            (local.set $n (i32.load_be (i32.add (local.get $p) (i32.const 2))))
            (if (i32.and (i32.and (i32.ne (i32.load8_u offset=${CLASS} (local.get $mk)) (i32.const 0))
                                  (i32.ne (i32.load8_u offset=${CLASS} (local.get $mv)) (i32.const 0)))
                         (i32.ge_s (local.get $n) (i32.const 0))) (then
              (local.set $fk (i32.load8_u offset=${SIZE} (local.get $mk)))
              (local.set $fv (i32.load8_u offset=${SIZE} (local.get $mv)))
              (if (i32.and (i32.ne (local.get $fk) (i32.const 0)) (i32.ne (local.get $fv) (i32.const 0)))
                (then
                  (if (i64.le_s (i64.mul (i64.extend_i32_s (local.get $n)) (i64.extend_i32_u (i32.add (local.get $fk) (local.get $fv))))
                                (i64.extend_i32_s (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 6))))
                    (then (local.set $p (i32.add (i32.add (local.get $p) (i32.const 6))
                                                 (i32.mul (local.get $n) (i32.add (local.get $fk) (local.get $fv))))) (br $outer))))
                (else (if (i32.eqz (local.get $n))
                  (then (local.set $p (i32.add (local.get $p) (i32.const 6))) (br $outer))
                  (else (if (i32.lt_s (local.get $depth) (local.get $max)) (then
                    (i32.store8 (local.get $depth) (i32.const 3))
                    (i32.store offset=${LEFT} (i32.shl (local.get $depth) (i32.const 2)) (i32.shl (local.get $n) (i32.const 1)))
                    (i32.store8 offset=${T1} (local.get $depth) (local.get $mk))
                    (i32.store8 offset=${T2} (local.get $depth) (local.get $mv))
                    (local.set $depth (i32.add (local.get $depth) (i32.const 1)))
                    (local.set $p (i32.add (local.get $p) (i32.const 6))) (br $outer)))))))))))
          (br $slow)))
        ;; LIST or SET
        (if (i32.le_s (i32.add (local.get $p) (i32.const 5)) (local.get $end)) (then
          (local.set $mk (i32.load8_u (local.get $p)))
          (local.set $n (i32.load_be (i32.add (local.get $p) (i32.const 1))))
          (if (i32.and (i32.ne (i32.load8_u offset=${CLASS} (local.get $mk)) (i32.const 0)) (i32.ge_s (local.get $n) (i32.const 0))) (then
            (local.set $fk (i32.load8_u offset=${SIZE} (local.get $mk)))
            (if (i32.ne (local.get $fk) (i32.const 0))
              (then
                (if (i64.le_s (i64.mul (i64.extend_i32_s (local.get $n)) (i64.extend_i32_u (local.get $fk)))
                              (i64.extend_i32_s (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 5))))
                  (then (local.set $p (i32.add (i32.add (local.get $p) (i32.const 5)) (i32.mul (local.get $n) (local.get $fk)))) (br $outer))))
              (else (if (i32.eqz (local.get $n))
                (then (local.set $p (i32.add (local.get $p) (i32.const 5))) (br $outer))
                (else (if (i32.lt_s (local.get $depth) (local.get $max)) (then
                  (i32.store8 (local.get $depth) (i32.const 2))
                  (i32.store offset=${LEFT} (i32.shl (local.get $depth) (i32.const 2)) (local.get $n))
                  (i32.store8 offset=${T1} (local.get $depth) (local.get $mk))
                  (local.set $depth (i32.add (local.get $depth) (i32.const 1)))
                  (local.set $p (i32.add (local.get $p) (i32.const 5))) (br $outer)))))))))))
      ) ;; $slow
      (global.set $code (i32.const 2)) (global.set $vt (local.get $t)) (br $ret)
    )) ;; outer, ret
    (global.set $gp (local.get $p)) (global.set $gd (local.get $depth))
    (global.get $code))

)
`

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

function instantiate(): WasmFastPath | undefined {
  // Trap: instantiating reserves address space for the memory's guard regions (gigabytes, not
  // resident); under `ulimit -v` that fails with "Out of memory". The scanner then runs on its
  // JavaScript fast path rather than the process failing.
  try {
    const x = instantiateWat(WAT)
    if (x !== undefined) return new WasmFastPath(x as unknown as Exports)
    unavailable = 'this Node has no WebAssembly (--jitless?)'
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
