import type { TestProject } from 'vitest/node'
import { findPostgres, type PostgresServer } from './helpers/postgres-server.js'
import { startRedisServer, type RedisServer } from './helpers/redis-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
    databaseUrl: string
  }
}

let own: RedisServer | undefined
let postgres: PostgresServer | undefined

/**
 * One Redis for the suite: REDIS_URL when set, else our own redis-server (fails with an install hint if absent).
 * One PostgreSQL: DATABASE_URL, else the machine's on 127.0.0.1:5432, else our own (see postgres-server.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.REDIS_URL ?? (own = await startRedisServer()).url
  project.provide('redisUrl', url)
  postgres = await findPostgres()
  project.provide('databaseUrl', postgres.url)
  return async () => {
    await own?.stop()
    await postgres?.stop()
  }
}
