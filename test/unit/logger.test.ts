import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger, resolveLogFormat } from '../../src/logger.js'

/** a destination that keeps what it was given, as text */
function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString())
      done()
    },
  })
  return { stream, text: () => chunks.join('') }
}

t.test('auto is pretty on a terminal and JSON everywhere else; explicit formats win', async (t) => {
  t.equal(resolveLogFormat('auto', true), 'pretty')
  t.equal(resolveLogFormat('auto', false), 'json')
  t.equal(resolveLogFormat('json', true), 'json')
  t.equal(resolveLogFormat('pretty', false), 'pretty')
})

t.test('json: one JSON object per line, level as a label', async (t) => {
  const c = capture()
  const log = createLogger('info', c.stream, 'json')
  log.child({ component: 'hs2-route' }).info({ backends: 2 }, 'route ready')
  log.debug('not written at info')
  const lines = c.text().trim().split('\n')
  t.equal(lines.length, 1)
  const rec = JSON.parse(lines[0]!) as Record<string, unknown>
  t.match(rec, { level: 'info', msg: 'route ready', component: 'hs2-route', backends: 2 })
})

t.test(
  'pretty: one readable line per record, level word first, fields after the message',
  async (t) => {
    const c = capture()
    const log = createLogger('info', c.stream, 'pretty')
    log.child({ component: 'hs2-route' }).warn({ backends: 0 }, 'no usable backend')
    log.debug('not written at info')
    const lines = c.text().trim().split('\n')
    t.equal(lines.length, 1, 'one line, fields included')
    t.match(
      lines[0],
      /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN.*: no usable backend .*"component":"hs2-route"/,
    )
    t.match(lines[0], /"backends":0/)
    t.throws(() => JSON.parse(lines[0]!), 'not JSON')
  },
)
