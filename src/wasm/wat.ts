/**
 * A small assembler for the subset of the WebAssembly text format that our hand-written modules
 * use, so their source stays readable text in the repository and no build output is committed.
 *
 * Accepted: one `(module ...)` with `(memory (export "m") min [max])`, i32/i64 `(global $g (export
 * "g") (mut i32) (i32.const 0))` and `(func $f (export "f") (param $a i32) (result i32) (local $x
 * i32) ...)`. Bodies are written in folded form only: `(op operand...)` with the operands first
 * evaluated, `(block $l ...)`, `(loop $l ...)`, `(if COND (then ...) (else ...))`; blocks have no
 * result. Memory instructions take `offset=N` and `align=N`. One pseudo-instruction,
 * `(i32.load_be ADDR)`, loads a big-endian i32 (wasm has no byte swap); it uses a hidden local.
 * Comments are `;; to end of line`. Errors throw with the offending token; a wrong program also
 * fails WebAssembly's own validation when it is compiled.
 */

type Node = string | Node[]

const VALTYPE: Record<string, number> = { i32: 0x7f, i64: 0x7e }

// opcode per plain instruction; memory instructions also carry their natural alignment (log2)
const OPS: Record<string, number> = {
  unreachable: 0x00,
  nop: 0x01,
  return: 0x0f,
  drop: 0x1a,
  select: 0x1b,
  'i32.eqz': 0x45,
  'i32.eq': 0x46,
  'i32.ne': 0x47,
  'i32.lt_s': 0x48,
  'i32.lt_u': 0x49,
  'i32.gt_s': 0x4a,
  'i32.gt_u': 0x4b,
  'i32.le_s': 0x4c,
  'i32.le_u': 0x4d,
  'i32.ge_s': 0x4e,
  'i32.ge_u': 0x4f,
  'i64.eqz': 0x50,
  'i64.eq': 0x51,
  'i64.lt_s': 0x53,
  'i64.gt_s': 0x55,
  'i64.le_s': 0x57,
  'i64.ge_s': 0x59,
  'i32.add': 0x6a,
  'i32.sub': 0x6b,
  'i32.mul': 0x6c,
  'i32.and': 0x71,
  'i32.or': 0x72,
  'i32.xor': 0x73,
  'i32.shl': 0x74,
  'i32.shr_s': 0x75,
  'i32.shr_u': 0x76,
  'i32.rotl': 0x77,
  'i32.rotr': 0x78,
  'i64.add': 0x7c,
  'i64.sub': 0x7d,
  'i64.mul': 0x7e,
  'i32.wrap_i64': 0xa7,
  'i64.extend_i32_s': 0xac,
  'i64.extend_i32_u': 0xad,
}
const MEM_OPS: Record<string, [op: number, align: number]> = {
  'i32.load': [0x28, 2],
  'i64.load': [0x29, 3],
  'i32.load8_u': [0x2d, 0],
  'i32.load16_u': [0x2f, 1],
  'i32.store': [0x36, 2],
  'i64.store': [0x37, 3],
  'i32.store8': [0x3a, 0],
  'i32.store16': [0x3b, 1],
}
const BE_SCRATCH = '$__be'

export class WatError extends Error {}

export function assembleWat(text: string): Uint8Array {
  const top = parse(text)
  if (top.length !== 1 || !Array.isArray(top[0]) || top[0][0] !== 'module')
    throw new WatError('expected one (module ...)')
  const fields = top[0].slice(1).map(list)
  const globals = fields.filter((f) => f[0] === 'global')
  const funcs = fields.filter((f) => f[0] === 'func')
  const globalIdx = new Map(globals.map((g, i) => [name(g[1]), i]))
  const funcIdx = new Map(funcs.map((f, i) => [name(f[1]), i]))
  const exports: number[][] = []
  const types: number[][] = []
  const codes: number[][] = []
  let memory: number[] = []

  for (const f of fields) {
    if (f[0] === 'memory') {
      const nums = f.slice(1).filter((x): x is string => typeof x === 'string')
      const [min, max] = nums.map(int)
      memory =
        max === undefined
          ? [0x00, ...uleb(min as number)]
          : [0x01, ...uleb(min as number), ...uleb(max)]
      exportOf(f, 0x02, 0)
    } else if (f[0] !== 'global' && f[0] !== 'func')
      throw new WatError(`unsupported module field (${f[0]} ...)`)
  }
  const globalBytes = globals.map((g, i) => {
    exportOf(g, 0x03, i)
    const ty = g.find((x) => Array.isArray(x) && x[0] === 'mut')
    const t = Array.isArray(ty) ? ty[1] : g.find((x) => typeof x === 'string' && x in VALTYPE)
    const init = list(g[g.length - 1])
    const value =
      init[0] === 'i64.const' ? [0x42, ...sleb(int(init[1]))] : [0x41, ...sleb(i32(init[1]))]
    return [valtype(t), Array.isArray(ty) ? 1 : 0, ...value, 0x0b]
  })
  funcs.forEach((f, i) => {
    exportOf(f, 0x00, i)
    const locals = new Map<string, number>()
    const params: number[] = []
    const results: number[] = []
    const localTypes: number[] = []
    const body: Node[] = []
    for (const x of f.slice(2)) {
      const l = Array.isArray(x) ? x : undefined
      if (l?.[0] === 'export') continue
      if (l?.[0] === 'param' || l?.[0] === 'local') {
        locals.set(name(l[1]), locals.size)
        ;(l[0] === 'param' ? params : localTypes).push(valtype(l[2]))
      } else if (l?.[0] === 'result') results.push(valtype(l[1]))
      else body.push(x)
    }
    locals.set(BE_SCRATCH, locals.size)
    localTypes.push(VALTYPE.i32 as number)
    types.push([0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))])
    const out: number[] = []
    const labels: (string | undefined)[] = []
    const ctx = { locals, globalIdx, funcIdx, labels, out }
    for (const n of body) emit(n, ctx)
    const code = [...vec(localTypes.map((t) => [1, t])), ...out, 0x0b]
    codes.push([...uleb(code.length), ...code])
  })

  function exportOf(f: Node[], kind: number, idx: number): void {
    const e = f.find((x) => Array.isArray(x) && x[0] === 'export')
    if (Array.isArray(e)) exports.push([...str(unquote(e[1])), kind, ...uleb(idx)])
  }
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...(memory.length > 0 ? section(5, [1, ...memory]) : []),
    ...(globals.length > 0 ? section(6, vec(globalBytes)) : []),
    ...section(7, vec(exports)),
    ...section(10, vec(codes)),
  ])
}

interface Ctx {
  locals: Map<string, number>
  globalIdx: Map<string, number>
  funcIdx: Map<string, number>
  labels: (string | undefined)[]
  out: number[]
}

function emit(n: Node, c: Ctx): void {
  if (!Array.isArray(n)) throw new WatError(`expected a folded instruction, got "${n}"`)
  const [op, ...rest] = n
  if (typeof op !== 'string') throw new WatError('expected an instruction name')
  const out = c.out
  if (op === 'block' || op === 'loop') {
    const label = typeof rest[0] === 'string' && rest[0].startsWith('$') ? rest.shift() : undefined
    out.push(op === 'block' ? 0x02 : 0x03, 0x40)
    c.labels.push(label as string | undefined)
    for (const x of rest) emit(x, c)
    c.labels.pop()
    out.push(0x0b)
    return
  }
  if (op === 'if') {
    const arms = rest.filter(
      (x) => Array.isArray(x) && (x[0] === 'then' || x[0] === 'else'),
    ) as Node[][]
    for (const x of rest) if (!arms.includes(x as Node[])) emit(x, c)
    out.push(0x04, 0x40)
    c.labels.push(undefined)
    for (const arm of arms) {
      if (arm[0] === 'else') out.push(0x05)
      for (const x of arm.slice(1)) emit(x, c)
    }
    c.labels.pop()
    out.push(0x0b)
    return
  }
  if (op === 'i32.load_be') {
    // bswap: rotl(x, 8) keeps bytes 0 and 2 in place of 3 and 1, rotr(x, 8) the other two
    const x = ['local.get', BE_SCRATCH]
    emit(
      [
        'i32.or',
        [
          'i32.and',
          [
            'i32.rotl',
            ['local.tee', BE_SCRATCH, ['i32.load', 'align=0', ...rest]],
            ['i32.const', '8'],
          ],
          ['i32.const', '0x00ff00ff'],
        ],
        ['i32.and', ['i32.rotr', x, ['i32.const', '8']], ['i32.const', '0xff00ff00']],
      ],
      c,
    )
    return
  }
  const imm = rest.filter((x): x is string => typeof x === 'string')
  for (const x of rest) if (Array.isArray(x)) emit(x, c)
  const mem = MEM_OPS[op]
  if (mem !== undefined) {
    const opt = (k: string): number | undefined => {
      const s = imm.find((x) => x.startsWith(`${k}=`))
      return s === undefined ? undefined : int(s.slice(k.length + 1))
    }
    const align = opt('align') ?? mem[1]
    out.push(mem[0], ...uleb(Math.min(align, mem[1])), ...uleb(opt('offset') ?? 0))
    return
  }
  switch (op) {
    case 'local.get':
    case 'local.set':
    case 'local.tee':
      out.push(
        op === 'local.get' ? 0x20 : op === 'local.set' ? 0x21 : 0x22,
        ...uleb(index(c.locals, imm[0], 'local')),
      )
      return
    case 'global.get':
    case 'global.set':
      out.push(op === 'global.get' ? 0x23 : 0x24, ...uleb(index(c.globalIdx, imm[0], 'global')))
      return
    case 'call':
      out.push(0x10, ...uleb(index(c.funcIdx, imm[0], 'function')))
      return
    case 'br':
    case 'br_if': {
      const l = c.labels.lastIndexOf(imm[0])
      if (imm[0] === undefined || l < 0) throw new WatError(`unknown label ${imm[0]}`)
      out.push(op === 'br' ? 0x0c : 0x0d, ...uleb(c.labels.length - 1 - l))
      return
    }
    case 'i32.const':
      out.push(0x41, ...sleb(i32(imm[0])))
      return
    case 'i64.const':
      out.push(0x42, ...sleb(int(imm[0])))
      return
  }
  const code = OPS[op]
  if (code === undefined) throw new WatError(`unsupported instruction ${op}`)
  out.push(code)
}

function parse(text: string): Node[] {
  const tokens = text.replace(/;;[^\n]*/g, ' ').match(/"[^"]*"|[()]|[^\s()]+/g) ?? []
  const stack: Node[][] = [[]]
  for (const t of tokens) {
    if (t === '(') stack.push([])
    else if (t === ')') {
      const done = stack.pop()
      const parent = stack[stack.length - 1]
      if (done === undefined || parent === undefined) throw new WatError('unbalanced ")"')
      parent.push(done)
    } else (stack[stack.length - 1] as Node[]).push(t)
  }
  if (stack.length !== 1) throw new WatError('unbalanced "("')
  return stack[0] as Node[]
}

function list(n: Node | undefined): Node[] {
  if (!Array.isArray(n)) throw new WatError(`expected a list, got "${n}"`)
  return n
}
function name(n: Node | undefined): string {
  if (typeof n !== 'string' || !n.startsWith('$'))
    throw new WatError(`expected a $name, got ${JSON.stringify(n)}`)
  return n
}
function unquote(n: Node | undefined): string {
  if (typeof n !== 'string' || !n.startsWith('"'))
    throw new WatError(`expected a "string", got ${JSON.stringify(n)}`)
  return n.slice(1, -1)
}
function valtype(n: Node | undefined): number {
  const t = typeof n === 'string' ? VALTYPE[n] : undefined
  if (t === undefined) throw new WatError(`unsupported value type ${JSON.stringify(n)}`)
  return t
}
function index(m: Map<string, number>, key: string | undefined, what: string): number {
  const i = key === undefined ? undefined : key.startsWith('$') ? m.get(key) : Number(key)
  if (i === undefined || !Number.isInteger(i)) throw new WatError(`unknown ${what} ${key}`)
  return i
}
function int(n: Node | undefined): number {
  const v = typeof n === 'string' ? Number(n.replace(/_/g, '')) : NaN
  if (!Number.isInteger(v)) throw new WatError(`expected an integer, got ${JSON.stringify(n)}`)
  return v
}
/** an i32 constant: hex ones above 2^31 (0xff00ff00) mean the i32 with that bit pattern */
function i32(n: Node | undefined): number {
  const v = int(n)
  return v > 0x7fffffff && v <= 0xffffffff ? v | 0 : v
}

function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n = Math.floor(n / 128)
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return out
}
function sleb(n: number): number[] {
  const out: number[] = []
  for (;;) {
    const b = n & 0x7f
    n = Math.floor(n / 128)
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}
function str(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')]
  return [...uleb(b.length), ...b]
}
function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()]
}
function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body]
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> }
}

/**
 * Assemble and instantiate a module with no imports, synchronously (fine in Node for small
 * modules). Undefined when this Node runs without WebAssembly (`--jitless`): callers keep a
 * JavaScript path.
 */
export function instantiateWat(text: string): Record<string, unknown> | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly
  if (api === undefined) return undefined
  return new api.Instance(new api.Module(assembleWat(text)), {}).exports
}
