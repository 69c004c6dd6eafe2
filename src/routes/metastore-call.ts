/** One request of the client (or an internal replay), from its first byte until its reply ended. */
export interface Call {
  name: string
  seqid: number
  oneway: boolean
  /** safe to send again to another backend (a read, or a session setter) */
  resendable: boolean
  internal: boolean
  /** the request bytes while they fit in maxReplayBytes; null once they did not */
  parts: Buffer[] | null
  size: number
  complete: boolean
  /** bytes of it written to the current backend */
  sent: number
  replyStarted: boolean
  exception: boolean
  startedAt: number
  resends: number
}

/** A call whose header is still to come; `internal` = a session replay whose answer is swallowed. */
export function newCall(internal: boolean, now: number): Call {
  return {
    name: '',
    seqid: 0,
    oneway: false,
    resendable: false,
    internal,
    parts: [],
    size: 0,
    complete: false,
    sent: 0,
    replyStarted: false,
    exception: false,
    startedAt: now,
    resends: 0,
  }
}
