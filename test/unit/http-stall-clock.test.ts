import t from 'tap'
import { StallClock, type Watched } from '../../src/http/stall-clock.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A watched request that records when its deadline fired. */
function watched(): Watched & { firedAt: number | undefined; fired: number } {
  const w: Watched & { firedAt: number | undefined; fired: number } = {
    firedAt: undefined,
    fired: 0,
    stallAt: 0,
    stallPrev: undefined,
    stallNext: undefined,
    expired() {
      w.fired++
      w.firedAt = Date.now()
    },
  }
  return w
}

t.test('a deadline fires once, never early, at most a quarter of its time late', async (t) => {
  const clock = new StallClock()
  t.teardown(() => clock.stop())
  const w = watched()
  const t0 = Date.now()
  clock.watch(w, 200)
  for (let i = 0; i < 100 && w.fired === 0; i++) await sleep(10)
  t.equal(w.fired, 1)
  const took = (w.firedAt ?? 0) - t0
  // 50 ms of the quarter, plus room for a busy test machine
  t.ok(took >= 200 && took < 200 + 50 + 150, `fired after ${took} ms`)
  t.equal(clock.watching, 0, 'no longer watched')
  await sleep(120)
  t.equal(w.fired, 1, 'fired once')
})

t.test('unwatched before its deadline: never fires; others still do', async (t) => {
  const clock = new StallClock()
  t.teardown(() => clock.stop())
  const gone = watched()
  const kept = watched()
  clock.watch(gone, 100)
  clock.watch(kept, 100)
  clock.unwatch(gone)
  for (let i = 0; i < 100 && kept.fired === 0; i++) await sleep(10)
  t.equal(kept.fired, 1)
  t.equal(gone.fired, 0)
})

t.test('a shorter deadline after a longer one is still met in time', async (t) => {
  const clock = new StallClock()
  t.teardown(() => clock.stop())
  const long = watched()
  const short = watched()
  clock.watch(long, 4_000)
  const t0 = Date.now()
  clock.watch(short, 100)
  for (let i = 0; i < 100 && short.fired === 0; i++) await sleep(10)
  const took = (short.firedAt ?? 0) - t0
  t.ok(took >= 100 && took < 100 + 50 + 150, `fired after ${took} ms, not at the long one's tick`)
  t.equal(long.fired, 0)
})

t.test('stop(): nothing fires afterwards, and later watches are ignored', async (t) => {
  const clock = new StallClock()
  const w = watched()
  clock.watch(w, 60)
  clock.stop()
  clock.watch(watched(), 60)
  await sleep(200)
  t.equal(w.fired, 0)
  t.equal(clock.watching, 0)
})

t.test('the clock idles when nothing is watched and starts again on the next watch', async (t) => {
  const clock = new StallClock()
  t.teardown(() => clock.stop())
  const first = watched()
  clock.watch(first, 60)
  for (let i = 0; i < 50 && first.fired === 0; i++) await sleep(10)
  // a tick finds nothing watched and stops the interval
  await sleep(150)
  const second = watched()
  clock.watch(second, 60)
  for (let i = 0; i < 50 && second.fired === 0; i++) await sleep(10)
  t.equal(first.fired, 1)
  t.equal(second.fired, 1)
})

t.test('many watched: those unwatched from the head, middle and tail never fire', async (t) => {
  const clock = new StallClock()
  t.teardown(() => clock.stop())
  const all = Array.from({ length: 5 }, () => watched())
  for (const w of all) clock.watch(w, 80)
  t.equal(clock.watching, 5)
  // the list's head is the last watched
  for (const i of [4, 2, 0]) clock.unwatch(all[i] as Watched)
  clock.unwatch(all[2] as Watched)
  t.equal(clock.watching, 2, 'a second unwatch changes nothing')
  for (let i = 0; i < 100 && clock.watching > 0; i++) await sleep(10)
  t.same(
    all.map((w) => w.fired),
    [0, 1, 0, 1, 0],
  )
  clock.watch(all[1] as Watched, 60)
  clock.watch(all[1] as Watched, 60)
  t.equal(clock.watching, 1, 'watched again while watched: one entry')
})
