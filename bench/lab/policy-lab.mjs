// The policy lab: W-TinyLFU with the core's rules (window, probation, protected 80%, a count-min sketch of 4-bit
// counters in 64-byte blocks, aging every 10 x capacity additions) over integer ids, with the window's sizing and
// the admission rule as knobs, to try a change on every trace in seconds before building it into both cores.
// Its 'simple' climber with default knobs tracks the cores within about a point (a different hash); 'ghost'
// sizes the window by ghost hits (ARC's adaptation), 'minisim' by mini-simulations over a hash sample of the
// keys (the rule both cores now use: assembly/minis.ts; the lab's copy keeps its knobs).
// `node bench/lab/run.mjs` (V='{"name": {knobs}}', ONLY=<trace regex>) prints each against LRU, ARC and
// Belady. Not part of the package or of `npm run bench`.

function fmix(h) {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16
  return h >>> 0
}
const ROWS = [0x9e3779b1 | 0, 0x85ebca77 | 0, 0xc2b2ae3d | 0, 0x27d4eb2f | 0]
function mixed(h) {
  let x = h ^ 0x5bd1e995
  x ^= x >>> 16; x = Math.imul(x, 0x7feb352d); x ^= x >>> 15; x = Math.imul(x, 0x846ca68b | 0)
  return (x ^ (x >>> 16)) >>> 0
}

const NIL = -1, W = 0, PB = 1, PT = 2

/**
 * W-TinyLFU, the core's rules (window, probation, protected 80%, CM sketch 4 rows x 4 bits in 64-byte blocks,
 * aging every 10 x cap additions), with the climber and admission as knobs.
 */
export function wtlfu(stream, cap, k = {}) {
  const o = { window0: 0.01, period: 10, step0: 0.0625, decay: 0.98, restart: 0.05, protectedShare: 0.8, maxWindow: 1, random: 0, warm: 6, ghost: 1, gdelta: 1, gscale: 1, climber: 'simple', sampleAge: 10, ...k }
  const prev = new Int32Array(cap + 1), next = new Int32Array(cap + 1), region = new Uint8Array(cap + 1), ids = new Uint32Array(cap + 1), hashes = new Uint32Array(cap + 1)
  const heads = [NIL, NIL, NIL], tails = [NIL, NIL, NIL], sizes = [0, 0, 0]
  const slot = new Map(); let count = 0; const free = []
  const blocks = Math.max(1, Math.floor((cap * 16 + 127) / 128)); const sketch = new Uint8Array(blocks * 64)
  let additions = 0
  const blockOf = (x) => Math.floor((x * blocks) / 4294967296) * 64
  const estimate = (h) => { const x = mixed(h); const b = blockOf(x); let m = 15; for (let r = 0; r < 4; r++) { const idx = Math.imul(x, ROWS[r]) >>> 27; const c = (sketch[b + 16 * r + (idx >>> 1)] >>> ((idx & 1) << 2)) & 15; if (c < m) m = c } return m }
  const increment = (h) => { const x = mixed(h); const b = blockOf(x); for (let r = 0; r < 4; r++) { const idx = Math.imul(x, ROWS[r]) >>> 27; const p = b + 16 * r + (idx >>> 1); const sh = (idx & 1) << 2; const v = sketch[p]; if (((v >>> sh) & 15) !== 15) sketch[p] = v + (1 << sh) } additions++ }
  const ageIfDue = () => { if (additions < cap * o.sampleAge) return; const w = new Uint32Array(sketch.buffer); for (let i = 0; i < w.length; i++) w[i] = (w[i] >>> 1) & 0x77777777; additions >>>= 1 }
  const unlink = (s) => { const r = region[s], p = prev[s], n = next[s]; if (p === NIL) heads[r] = n; else next[p] = n; if (n === NIL) tails[r] = p; else prev[n] = p; sizes[r]-- }
  const push = (r, s) => { const h = heads[r]; prev[s] = NIL; next[s] = h; if (h === NIL) tails[r] = s; else prev[h] = s; heads[r] = s; region[s] = r; sizes[r]++ }
  const moveTail = (from, to) => { const s = tails[from]; unlink(s); push(to, s); return s }
  let windowMax, protectedMax
  const setWindowMax = (w) => { windowMax = w; protectedMax = Math.floor((cap - w) * o.protectedShare) }
  setWindowMax(Math.max(1, Math.round(cap * o.window0)))
  let requests = 0, hitsN = 0, previousRate = 0, step = -o.step0 * cap
  // state for other climbers
  let rng = 0x12345678
  const rand = () => { rng ^= rng << 13; rng ^= rng >>> 17; rng ^= rng << 5; return (rng >>> 0) / 4294967296 }
  const resizeWindow = (target) => {
    if (target > windowMax) { let quota = target - windowMax; setWindowMax(target); while (quota > 0 && sizes[W] < windowMax) { if (sizes[PB] > 0) moveTail(PB, W); else if (sizes[PT] > 0) moveTail(PT, W); else break; quota-- } }
    else { setWindowMax(target); while (sizes[W] > windowMax && sizes[W] > 0) moveTail(W, PB) }
    while (sizes[PT] > protectedMax && sizes[PT] > 0) moveTail(PT, PB)
  }
  const climb = () => {
    if (requests < cap * o.period) return
    const rate = hitsN / requests
    const change = rate - previousRate
    const amount = change >= 0 ? step : -step
    step = Math.abs(change) >= o.restart ? o.step0 * cap * (amount >= 0 ? 1 : -1) : o.decay * amount
    previousRate = rate
    const most = Math.max(1, Math.floor(cap * o.maxWindow) - 1)
    const target = Math.min(most, Math.max(1, windowMax + Math.trunc(amount)))
    if (target !== windowMax) resizeWindow(target)
    requests = 0; hitsN = 0
  }
  const remove = (s) => { unlink(s); slot.delete(ids[s]); free.push(s); count-- }
  // ghosts: FIFO sets of ids recently dropped from the window (rejected) and from main (evicted)
  const GW = new Map(), GM = new Map()
  const gwCap = Math.max(1, Math.round(cap * (o.gw ?? o.ghost))), gmCap = Math.max(1, Math.round(cap * (o.gm ?? o.ghost)))
  const ghostAdd = (g, id) => { g.delete(id); g.set(id, true); if (g.size > (g === GW ? gwCap : gmCap)) g.delete(g.keys().next().value) }
  const victim = () => { let v = tails[PB]; if (v !== NIL) return v; v = tails[PT]; if (v !== NIL) return v; return tails[W] }
  // Mini simulations: one small W-TinyLFU per window share, fed a hash sample of the keys.
  const shares = o.shares ?? [0, 0.01, 0.03, 0.07, 0.15, 0.3, 0.5, 0.75, 1]
  const R = o.rate ?? Math.max(1, 2 ** Math.floor(Math.log2(Math.max(1, cap / (o.miniMin ?? 512)))))
  const miniCap = Math.max(1, Math.round(cap / R))
  const minis = o.climber === 'minisim' ? shares.map((sh) => ({ win: new Map(), prob: new Map(), prot: new Map(), wmax: Math.max(o.minWin ?? 0, Math.round(miniCap * sh)), score: 0 })) : []
  const tail = (m) => m.keys().next().value
  const miniAccess = (m, id, h) => {
    const cMax = miniCap, pmax = Math.floor((cMax - m.wmax) * o.protectedShare)
    if (m.win.has(id)) { m.win.delete(id); m.win.set(id, h); return 1 }
    if (m.prot.has(id)) { m.prot.delete(id); m.prot.set(id, h); return 1 }
    if (m.prob.has(id)) { m.prob.delete(id); m.prot.set(id, h); if (m.prot.size > pmax) { const x = tail(m.prot); const hx = m.prot.get(x); m.prot.delete(x); m.prob.set(x, hx) } return 1 }
    // miss: insert into window (or straight to main when the window is 0)
    m.win.set(id, h)
    while (m.win.size > m.wmax) {
      const c = tail(m.win); const hc = m.win.get(c); m.win.delete(c)
      if (m.win.size + m.prob.size + m.prot.size < cMax) { m.prob.set(c, hc); continue }
      const victimMap = m.prob.size > 0 ? m.prob : m.prot
      const v = tail(victimMap); const hv = victimMap.get(v)
      if (estimate(hc) > estimate(hv)) { victimMap.delete(v); m.prob.set(c, hc) }
    }
    while (m.win.size + m.prob.size + m.prot.size > cMax) { const vm = m.prob.size > 0 ? m.prob : m.prot.size > 0 ? m.prot : m.win; vm.delete(tail(vm)) }
    return 0
  }
  let simRequests = 0
  const miniPeriod = Math.max(1, Math.round(cap * (o.miniPeriod ?? 1)))
  const miniStep = (id, h) => {
    if ((fmix(h ^ 0x5f3759df) & (R - 1)) !== 0) return
    for (const m of minis) m.score += miniAccess(m, id, h)
  }
  const miniDecide = () => {
    if (++simRequests < miniPeriod) return
    simRequests = 0
    let best = 0
    for (let k = 1; k < minis.length; k++) if (minis[k].score > minis[best].score) best = k
    const target = Math.min(cap - 1, Math.max(1, Math.round(cap * shares[best])))
    if (target !== windowMax) resizeWindow(target)
    for (const m of minis) m.score *= o.decayScore ?? 0.5
  }
  let hits = 0
  for (let i = 0; i < stream.length; i++) {
    const id = stream[i]
    if (minis.length > 0) { miniStep(id, fmix(id + 1)); miniDecide() }
    const s0 = slot.get(id)
    if (s0 !== undefined) {
      hits++; requests++; hitsN++
      increment(hashes[s0])
      const r = region[s0]
      if (r === PB) { unlink(s0); push(PT, s0); if (sizes[PT] > protectedMax) moveTail(PT, PB) }
      else if (heads[r] !== s0) { unlink(s0); push(r, s0) }
      continue
    }
    requests++
    const h = fmix(id + 1)
    if (o.climber === 'ghost') {
      if (GW.has(id)) { GW.delete(id); const d = Math.max(o.gdelta, o.gscale * GM.size / Math.max(1, GW.size)); const t = Math.min(Math.floor(cap * o.maxWindow) - 1, windowMax + d); resizeWindow(Math.max(1, Math.round(t)))  }
      else if (GM.has(id)) { GM.delete(id); const d = Math.max(o.gdelta, o.gscale * GW.size / Math.max(1, GM.size)); resizeWindow(Math.max(1, Math.round(windowMax - d))) }
    }
    // insert
    if (o.climber === 'simple') climb()
    let candidate = NIL
    while (sizes[W] + 1 > windowMax && sizes[W] > 0) candidate = moveTail(W, PB)
    while (count + 1 > cap) {
      const v = victim()
      if (candidate === NIL || v === candidate) { remove(v); candidate = NIL; continue }
      const cf = estimate(hashes[candidate]), vf = estimate(hashes[v])
      let admit = cf > vf
      if (!admit && o.random > 0 && cf >= o.warm && vf >= (o.hotVictim ?? 0) && rand() < o.random) admit = true
      if (admit) { if (region[v] !== W) ghostAdd(GM, ids[v]); remove(v) } else { ghostAdd(GW, ids[candidate]); remove(candidate); candidate = NIL }
    }
    const s = free.length ? free.pop() : count
    ids[s] = id; hashes[s] = h; slot.set(id, s); count++
    ageIfDue(); increment(h); push(W, s)
  }
  return hits
}
