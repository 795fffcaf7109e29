import type { TestProject } from 'vitest/node'
import { startRedisServer, type RedisServer } from './helpers/redis-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
  }
}

let own: RedisServer | undefined

/** One Redis for the suite: REDIS_URL when set, else our own redis-server (fails with an install hint if absent). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.REDIS_URL ?? (own = await startRedisServer()).url
  project.provide('redisUrl', url)
  return async () => {
    await own?.stop()
  }
}
