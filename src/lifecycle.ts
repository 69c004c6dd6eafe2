import { EventEmitter } from 'node:events'
import { ErrorCodes, ProxyError } from './errors.js'

export type RunState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped'

/** Legal edges; anything else is a programming error. A failed start goes straight to 'stopped'. */
const LEGAL: Readonly<Record<RunState, readonly RunState[]>> = {
  new: ['starting', 'stopped'],
  starting: ['running', 'stopping', 'stopped'],
  running: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
}

/** An explicit lifecycle state with one transition function; emits 'state' (to, from). */
export class Lifecycle extends EventEmitter {
  #state: RunState = 'new'

  get state(): RunState {
    return this.#state
  }

  /** Throws HHP_ERR_LIFECYCLE on an illegal edge. */
  to(next: RunState): void {
    const from = this.#state
    if (!LEGAL[from].includes(next)) {
      throw new ProxyError(ErrorCodes.LIFECYCLE, `illegal lifecycle transition ${from} -> ${next}`)
    }
    this.#state = next
    this.emit('state', next, from)
  }

  is(...states: RunState[]): boolean {
    return states.includes(this.#state)
  }
}
