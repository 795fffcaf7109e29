// Types for test/browser.test.ts.
import type { BrowserContext } from 'playwright-core'
export function chromiumPath(): string
export function launchChromium(extraArgs?: string[]): Promise<{ context: BrowserContext; close(): Promise<void> }>
