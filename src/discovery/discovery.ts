import type { EventEmitter } from 'node:events'
import type { BackendInfo } from '../backends/backend.js'

/** An instance discovery saw but will not route to, with the reason (shown to operators). */
export interface SkippedInstance {
  source: string
  reason: string
}

/** The result of one successful read: the complete current list. */
export interface DiscoverySnapshot {
  backends: BackendInfo[]
  skipped: SkippedInstance[]
}

export interface DiscoveryStatus {
  /** 'zookeeper' | 'zookeeper-ha' | 'static' */
  kind: string
  /** human description: quorum + path, or the static list */
  source: string
  /** a read has succeeded at least once */
  ready: boolean
  lastSuccessAt: number | undefined
  lastError: { message: string; at: number } | undefined
  updates: number
  errors: number
  /** ZooKeeper session state, when there is one */
  session: string | undefined
}

/**
 * Where a route's backends come from. Eventually consistent (design.md decision 3): only a
 * successful read produces an 'update' (which may shrink the list, even to empty); a failed read
 * emits 'failure' (an Error) and the consumer keeps its last good list.
 *
 * Events: 'update' (DiscoverySnapshot), 'failure' (Error). 'failure' is deliberately not 'error',
 * which would throw without a listener.
 */
export interface Discovery extends EventEmitter {
  start(): void
  stop(): void
  status(): DiscoveryStatus
}
