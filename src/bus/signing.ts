// Signed bus messages: HMAC-SHA256 through Web Crypto (globalThis.crypto.subtle), so the same code runs in
// Node, browsers and edge runtimes. A signed payload is
//   s2|<sent at, ms>|<nonce, 16 hex>|<signature, base64>|<message>
// and the signature covers everything but itself, and the channel it was sent on (which names the cache's
// prefix): caches that share a secret cannot hear each other's messages. A receiver refuses what is unsigned,
// mis-signed, signed for another channel, sent outside its time window (either way: clocks differ), or already
// seen (a replay within the window). s1 payloads (before 0.2, no channel) are still heard, so a deploy can mix
// versions; the cache refuses their replays by sequence number as it does every other message's.
// Imports nothing but types, so the chunk a cache loads for its first signed message is this file alone.
import type { SigningOptions } from './signing-options.js'

const VERSION = 's2'
/** The format before the channel was signed: read, never written. */
const LEGACY = 's1'
const encoder = new TextEncoder()

function toBase64(bytes: ArrayBuffer): string {
  let text = ''
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b)
  return btoa(text)
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const raw = atob(text)
    const out = new Uint8Array(raw.length)
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i)
    return out
  } catch {
    return undefined
  }
}

/** Why a message was refused, and whether it was authentic (signed with the secret): those are lost changes. */
export type Refusal = { refused: string; authentic: boolean; skewMs?: number }

export class Signer {
  private readonly key: Promise<CryptoKey>
  private readonly windowMs: number
  /** Nonces seen within the window, with their send time: a second copy is a replay. */
  private readonly seen = new Map<string, number>()
  private prunedAt = 0

  /** `channel`: what the signature binds a message to (the cache's bus channel, `<prefix>:bus`). */
  constructor(
    options: SigningOptions,
    private readonly channel = '',
  ) {
    // Checked by the cache's LazySigner (checkSigning) when it was made.
    const subtle = globalThis.crypto.subtle
    this.windowMs = options.windowMs ?? 30_000
    this.key = subtle.importKey('raw', encoder.encode(options.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
  }

  async sign(message: string, now = Date.now()): Promise<string> {
    const nonce = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('')
    const head = `${VERSION}|${now}|${nonce}`
    const signature = await globalThis.crypto.subtle.sign('HMAC', await this.key, encoder.encode(`${this.channel}|${head}|${message}`))
    return `${head}|${toBase64(signature)}|${message}`
  }

  /** The message inside a signed payload, or why it is refused. */
  async open(payload: string, now = Date.now()): Promise<{ message: string } | Refusal> {
    const parts: string[] = []
    let at = 0
    for (let i = 0; i < 4; i++) {
      const bar = payload.indexOf('|', at)
      if (bar < 0) return { refused: 'unsigned', authentic: false }
      parts.push(payload.slice(at, bar))
      at = bar + 1
    }
    const [version, sentText, nonce, signatureText] = parts as [string, string, string, string]
    // A newer signature format than this version knows: refused (counted), never misread.
    if (version !== VERSION && version !== LEGACY) return { refused: /^s\d+$/.test(version) ? `unknown signature format ${version}` : 'unsigned', authentic: false }
    const sent = Number(sentText)
    const signature = fromBase64(signatureText)
    if (!Number.isFinite(sent) || !/^[0-9a-f]{16}$/.test(nonce) || !signature) return { refused: 'malformed signature', authentic: false }
    const message = payload.slice(at)
    const signed = `${version}|${sentText}|${nonce}|${message}`
    const valid = await globalThis.crypto.subtle.verify('HMAC', await this.key, signature, encoder.encode(version === LEGACY ? signed : `${this.channel}|${signed}`))
    if (!valid) return { refused: 'bad signature (another secret, or another channel)', authentic: false }
    if (Math.abs(now - sent) > this.windowMs) return { refused: 'outside the time window', authentic: true, skewMs: sent - now }
    this.prune(now)
    // Seen already: applied then, so nothing is lost.
    if (this.seen.has(nonce)) return { refused: 'replayed', authentic: false }
    this.seen.set(nonce, sent)
    return { message }
  }

  /** Forgets nonces that left the window (a copy of those is refused by its time anyway). */
  private prune(now: number): void {
    if (now - this.prunedAt < this.windowMs / 4) return
    this.prunedAt = now
    for (const [nonce, sent] of this.seen) if (Math.abs(now - sent) > this.windowMs) this.seen.delete(nonce)
  }
}
