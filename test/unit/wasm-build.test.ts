import t from 'tap'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import initWabt from 'wabt'
import { wasmFix, wasmUnavailable } from '../../src/thrift/scanner.js'

// The scanner's WebAssembly: src/thrift/binary-scan.wat, assembled by `npm run build`
// (scripts/build-wasm.mjs, wabt) into dist/thrift/binary-scan.wasm. npm test builds first.
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const WAT = join(ROOT, 'src/thrift/binary-scan.wat')
const WASM = join(ROOT, 'dist/thrift/binary-scan.wasm')

t.test('dist holds the module assembled from the current .wat', async (t) => {
  t.ok(existsSync(WASM), 'npm run build wrote dist/thrift/binary-scan.wasm')
  const wabt = await initWabt()
  const mod = wabt.parseWat('binary-scan.wat', readFileSync(WAT, 'utf8'))
  t.teardown(() => mod.destroy())
  mod.validate()
  const fresh = Buffer.from(mod.toBinary({ write_debug_names: false }).buffer)
  t.ok(fresh.equals(readFileSync(WASM)), 'not stale: equal to a fresh assembly of the source')
})

t.test('the module exports what binary-wasm.ts drives, and this process uses it', async (t) => {
  // test/tsconfig.json has no DOM or WebAssembly typings: the two calls used, typed here
  const wasm = (
    globalThis as unknown as {
      WebAssembly: {
        Module: { new (b: Uint8Array): object; exports(m: object): { name: string }[] }
      }
    }
  ).WebAssembly
  const names = wasm.Module.exports(new wasm.Module(readFileSync(WASM))).map((e) => e.name)
  for (const n of ['fast', 'mem', 'vt', 'p', 'depth', 'layout_T1', 'layout_CLASS', 'layout_SIZE'])
    t.ok(names.includes(n), `exports ${n}`)
  t.equal(wasmUnavailable(), undefined, 'the scanner runs with its wasm fast path')
})

t.test('a package without the .wasm runs on the JavaScript scanner and says why', async (t) => {
  // a copy of dist/ without the module, loaded by a Node of its own (the module is read once
  // per process); from the copy neither place the loader looks holds a .wasm
  const dir = mkdtempSync(join(tmpdir(), 'hhp-nowasm-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(join(ROOT, 'dist'), join(dir, 'pkg/dist'), { recursive: true })
  rmSync(join(dir, 'pkg/dist/thrift/binary-scan.wasm'))
  cpSync(join(ROOT, 'package.json'), join(dir, 'pkg/package.json'))
  const entry = join(dir, 'pkg/dist/thrift/scanner.js')
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import('${entry}').then((m) => console.log(m.wasmUnavailable()))`,
    ],
    { encoding: 'utf8', cwd: dir, env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') } },
  )
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /binary-scan\.wasm is missing/)
})

t.test('each reason for running without wasm comes with what to change', async (t) => {
  t.match(
    wasmFix('WebAssembly.Instance(): Out of memory: Cannot allocate Wasm memory for new instance'),
    /ulimit -v.*--disable-wasm-trap-handler/,
  )
  t.match(wasmFix('this Node has no WebAssembly (--jitless?)'), /without --jitless/)
  t.match(wasmFix('binary-scan.wasm is missing (npm run build ...)'), /npm run build/)
  t.equal(wasmFix('something nobody foresaw'), undefined, 'no guess where there is nothing known')
})
