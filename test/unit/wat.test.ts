import t from 'tap'
import { assembleWat, instantiateWat, WatError } from '../../src/wasm/wat.js'

type Fn = (...a: number[]) => number

t.test('assembles a module that computes what its text says', async (t) => {
  const x = instantiateWat(`
    (module
      (memory (export "mem") 1 1)
      (global $last (export "last") (mut i32) (i32.const -1))
      ;; sum of the big-endian i32s in [p, end), and counts how many in $last
      (func $sum (export "sum") (param $p i32) (param $end i32) (result i32) (local $s i32) (local $n i32)
        (block $done (loop $next
          (br_if $done (i32.ge_s (local.get $p) (local.get $end)))
          (local.set $s (i32.add (local.get $s) (i32.load_be (local.get $p))))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br $next)))
        (global.set $last (local.get $n))
        (local.get $s))
      (func $pick (export "pick") (param $a i32) (param $b i32) (result i32)
        (if (i32.gt_s (local.get $a) (local.get $b)) (then (return (i32.sub (local.get $a) (local.get $b)))) (else (nop)))
        (select (i32.const 0xff00ff00) (i64.lt_s (i64.const -5) (i64.extend_i32_s (local.get $a))) (i32.eqz (local.get $a)))))
  `)
  if (x === undefined) throw new Error('this Node has no WebAssembly')
  const mem = new Uint8Array((x.mem as { buffer: ArrayBuffer }).buffer)
  const be = Buffer.alloc(12)
  be.writeInt32BE(0x01020304, 0)
  be.writeInt32BE(-7, 4)
  be.writeInt32BE(1000, 8)
  mem.set(be, 100)
  t.equal((x.sum as Fn)(100, 112), 0x01020304 - 7 + 1000, 'big-endian loads, loops and branches')
  t.equal((x.last as { value: number }).value, 3, 'globals')
  t.equal((x.pick as Fn)(9, 4), 5, 'if / return')
  t.equal((x.pick as Fn)(0, 4), 0xff00ff00 | 0, 'select, a hex constant above 2^31')
  t.equal((x.pick as Fn)(-9, 4), 0, 'i64 compare')
})

t.test('bad text fails with the offending token', async (t) => {
  const mod = (body: string): string =>
    `(module (func $f (export "f") (param $a i32) (result i32) ${body}))`
  t.throws(
    () => assembleWat(mod('(i32.frobnicate (local.get $a))')),
    new WatError('unsupported instruction i32.frobnicate'),
  )
  t.throws(() => assembleWat(mod('(local.get $nope)')), new WatError('unknown local $nope'))
  t.throws(() => assembleWat(mod('(block $b (br $c))')), new WatError('unknown label $c'))
  t.throws(() => assembleWat('(module (func $f)'), new WatError('unbalanced "("'))
  t.throws(
    () => assembleWat('(module (table 1 funcref))'),
    new WatError('unsupported module field (table ...)'),
  )
})
