// A bus's signing options, checked. Apart from the Signer (signing.ts), which a cache loads only once it has a
// message to sign or open: a cache without a secret never loads it (it is 0.8 KB of a browser bundle).
import { InvalidOptionError } from '../errors.js'
import { toMs, type Duration } from '../ttl.js'

/**
 * How a bus signs its messages (HMAC-SHA256 with a shared secret) and how far a message's send time may be
 * off.
 */
export interface SigningOptions {
  /** The shared secret (at least 16 characters). Every instance on the channel needs the same one. */
  secret: string
  /** How far a message's send time may be from the receiver's clock. @default 30_000 ms */
  windowMs?: number
}

/** A bus factory's signing from its `secret` and `signatureWindow` options (none without a secret). */
export function signingOf(options: { secret?: string; signatureWindow?: Duration }): SigningOptions | undefined {
  return options.secret === undefined ? undefined : { secret: options.secret, windowMs: toMs(options.signatureWindow ?? '30s', 'signatureWindow') }
}

/** Throws E_INVALID_OPTION for a secret that is too short or a runtime without Web Crypto; returns its SubtleCrypto. */
export function checkSigning(options: SigningOptions): SubtleCrypto {
  if (typeof options.secret !== 'string' || options.secret.length < 16) throw new InvalidOptionError('bus secret must be a string of at least 16 characters')
  const subtle = globalThis.crypto?.subtle
  if (!subtle) throw new InvalidOptionError('signed bus messages need Web Crypto (globalThis.crypto.subtle), which this runtime lacks')
  return subtle
}

/** A Signer loaded at the first message; the options are checked now, so a bad secret fails the constructor. */
export class LazySigner {
  private signer: Promise<import('./signing.js').Signer> | undefined
  constructor(
    private readonly options: SigningOptions,
    private readonly channel: string,
  ) {
    checkSigning(options)
  }

  private load(): Promise<import('./signing.js').Signer> {
    return (this.signer ??= import('./signing.js').then(({ Signer }) => new Signer(this.options, this.channel)))
  }

  async sign(message: string, now?: number): Promise<string> {
    return (await this.load()).sign(message, now)
  }

  async open(payload: string, now?: number): Promise<{ message: string } | import('./signing.js').Refusal> {
    return (await this.load()).open(payload, now)
  }
}
