/**
 * The default l1.ttl of a cache on an edge driver without a bus (L2DriverFactory.l1TtlWithoutBus): nothing tells
 * an edge instance's L1 of a change made elsewhere, so it keeps an entry at most this long and then reads L2
 * again. Short enough for most "fresh within seconds" needs, long enough that a hot key costs one L2 request
 * per isolate every 5 s instead of one per call.
 */
export const EDGE_L1_TTL = 5_000
