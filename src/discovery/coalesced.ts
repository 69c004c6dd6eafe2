/**
 * Runs an async read so that runs never overlap: a call while one runs asks for exactly one more
 * run after it, so a watch that fires during a read is never lost and a burst costs two reads.
 * Nothing runs once `stopped()` says so.
 */
export class CoalescedRead {
  readonly #read: () => Promise<void>
  readonly #stopped: () => boolean
  #running = false
  #again = false

  constructor(read: () => Promise<void>, stopped: () => boolean) {
    this.#read = read
    this.#stopped = stopped
  }

  async run(): Promise<void> {
    if (this.#stopped()) return
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = true
    try {
      do {
        this.#again = false
        await this.#read()
      } while (this.#again && !this.#stopped())
    } finally {
      this.#running = false
    }
  }
}
