import t from 'tap'
import { FIRST_ANSWER_KEEP_BYTES, FirstAnswerState } from '../../src/net/first-answer.js'

const opts = (keepBytes?: number) => ({
  timeoutMs: 60_000,
  ...(keepBytes === undefined ? {} : { keepBytes }),
  answered: () => {},
  stalled: () => {},
})

t.test('keeps client chunks up to the bound, then gives replay up for good', async (t) => {
  const s = new FirstAnswerState(opts(5), () => t.fail('no timeout here'))
  t.ok(s.keep(Buffer.from('abc')))
  t.ok(s.keep(Buffer.from('de')), 'exactly the bound is kept')
  t.same(Buffer.concat(s.kept!).toString(), 'abcde')
  t.notOk(s.keep(Buffer.from('f')), 'one byte past the bound ends it')
  s.done()
  t.equal(s.kept, undefined)
  t.notOk(s.keep(Buffer.from('g')), 'and it stays over')
})

t.test('the default bound is 64 KiB: a handshake fits, a bulk upload does not', async (t) => {
  t.equal(FIRST_ANSWER_KEEP_BYTES, 64 * 1024)
  const s = new FirstAnswerState(opts(), () => t.fail('no timeout here'))
  t.ok(s.keep(Buffer.alloc(FIRST_ANSWER_KEEP_BYTES)))
  t.notOk(s.keep(Buffer.alloc(1)))
  s.done()
})

t.test('the timer fires once per arm and not after done', async (t) => {
  let fired = 0
  const s = new FirstAnswerState({ ...opts(), timeoutMs: 1 }, () => fired++)
  s.keep(Buffer.from('x'))
  s.keep(Buffer.from('y')) // a running timer is not restarted
  await new Promise((r) => setTimeout(r, 30))
  t.equal(fired, 1)
  s.arm()
  s.done()
  await new Promise((r) => setTimeout(r, 30))
  t.equal(fired, 1, 'done() cancels a pending timeout')
})
