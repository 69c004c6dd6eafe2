import t from 'tap'
import { Lifecycle } from '../../src/lifecycle.js'

t.test('legal path and emitted transitions', async (t) => {
  const l = new Lifecycle()
  const seen: string[] = []
  l.on('state', (to: string, from: string) => seen.push(`${from}->${to}`))
  l.to('starting')
  l.to('running')
  l.to('stopping')
  l.to('stopped')
  t.same(seen, ['new->starting', 'starting->running', 'running->stopping', 'stopping->stopped'])
})

t.test('illegal edges throw HHP_ERR_LIFECYCLE', async (t) => {
  const l = new Lifecycle()
  t.throws(() => l.to('running'), { code: 'HHP_ERR_LIFECYCLE' })
  l.to('stopped')
  t.throws(() => l.to('starting'), { code: 'HHP_ERR_LIFECYCLE' })
})
