/**
 * The horizontal scaling decision, as a pure function of readings, bounds
 * and the recent recommendations (no I/O, no clock of its own), so it can
 * be tested step by step with a fake clock.
 *
 * Against Kubernetes' HPA (15 s sync, 300 s scale-down window, 10 %
 * tolerance) it is faster and still calm:
 *  - evaluated every ~2 s; a scale-up needs the breach to hold over the
 *    scale-up window (default 2 s: two evaluations), so one noisy sample
 *    does not add capacity, and then jumps straight to what the load needs
 *    (bounded by the step size: at most double, or +maxScaleUpStep);
 *  - a scale-down takes the HIGHEST recommendation over the scale-down
 *    window (default 30 s), so capacity only leaves after load stayed low
 *    for the whole window, and at most half of the replicas go per step;
 *  - readings within the tolerance (10 %) of the target change nothing;
 *  - min/max always win; with min 0 the app goes to zero only after
 *    `idleToZeroMs` without requests, and demand at zero wakes it at once.
 */

export type MetricType = 'cpu' | 'memory' | 'rps-per-replica' | 'p95-latency-ms' | 'custom';

export interface MetricReading {
  type: MetricType;
  target: number;
  /**
   * cpu/memory: average utilization % of the replicas' allocation;
   * rps-per-replica: TOTAL requests/s of the app (divided here);
   * p95-latency-ms: the app's p95; custom: average per replica.
   * Undefined = no data (the metric is ignored this round).
   */
  value?: number;
  /** Custom metric query, shown in decisions. */
  query?: string;
}

export interface Behavior {
  scaleUpStabilizationMs: number;
  scaleDownStabilizationMs: number;
  /** Replicas added per decision at least allowed (besides doubling). */
  maxScaleUpStep: number;
  /** Share of replicas removed per decision at most (percent; at least one). */
  maxScaleDownPercent: number;
  tolerance: number;
  /** With minReplicas 0: idle time before going to zero. */
  idleToZeroMs: number;
}

export const DEFAULT_BEHAVIOR: Behavior = {
  scaleUpStabilizationMs: 2_000, scaleDownStabilizationMs: 30_000, maxScaleUpStep: 4, maxScaleDownPercent: 50, tolerance: 0.1, idleToZeroMs: 60_000,
};

export interface DecisionInput {
  now: number;
  current: number;
  min: number;
  max: number;
  readings: MetricReading[];
  /** Milliseconds since the app last saw a request (Infinity = never). */
  idleMs?: number;
  /** Requests are waiting (in flight or refused) while there is no replica. */
  demand?: boolean;
}

/** Kept by the caller between decisions (per policy). */
export interface DecisionState { recs: { t: number; n: number }[] }

export interface Decision {
  desired: number;
  /** What the metrics alone asked for, before stabilization and steps. */
  recommended: number;
  reason: string;
  perMetric: { type: MetricType; value?: number; target: number; proposes?: number }[];
}

function propose(r: MetricReading, current: number, tol: number): number | undefined {
  if (r.value === undefined || !Number.isFinite(r.value)) return undefined;
  if (r.type === 'rps-per-replica') {
    if (current === 0) return Math.ceil(r.value / r.target);
    const ratio = r.value / current / r.target;
    return Math.abs(ratio - 1) <= tol ? current : Math.ceil(r.value / r.target);
  }
  if (current === 0) return undefined;
  const ratio = r.value / r.target;
  if (r.type === 'p95-latency-ms') {
    // Latency does not fall linearly with replicas: grow on a breach, shrink by one when far below.
    if (ratio > 1 + tol) return Math.ceil(current * Math.min(ratio, 2));
    return ratio < 0.5 ? current - 1 : current;
  }
  return Math.abs(ratio - 1) <= tol ? current : Math.ceil(current * ratio);
}

export function decide(inp: DecisionInput, state: DecisionState, b: Behavior = DEFAULT_BEHAVIOR): Decision {
  const { now, current, min, max } = inp;
  const perMetric = inp.readings.map((r) => ({ type: r.type, value: r.value, target: r.target, proposes: propose(r, current, b.tolerance) }));
  const proposals = perMetric.flatMap((m) => (m.proposes === undefined ? [] : [m.proposes]));
  const idle = (inp.idleMs ?? Number.POSITIVE_INFINITY) >= b.idleToZeroMs && !inp.demand;
  const floor = min > 0 ? min : idle ? 0 : Math.min(1, max);
  let rec = proposals.length ? Math.max(...proposals) : current;
  if (min === 0 && current === 0 && !inp.demand && !proposals.some((p) => p > 0)) rec = 0;
  rec = Math.max(floor, Math.min(max, rec));

  const keep = 2 * Math.max(b.scaleUpStabilizationMs, b.scaleDownStabilizationMs) + 1000;
  state.recs = state.recs.filter((r) => r.t > now - keep);
  state.recs.push({ t: now, n: rec });
  // The run of recent recommendations all on one side of `current`: how long it has held, and its bound.
  const run = (side: (n: number) => boolean) => {
    let i = state.recs.length;
    while (i > 0 && side(state.recs[i - 1]!.n)) i--;
    const xs = state.recs.slice(i);
    return xs.length ? { since: xs[0]!.t, ns: xs.map((r) => r.n) } : undefined;
  };

  let desired = current;
  let reason = proposals.length ? 'within tolerance' : 'no metric data: holding';
  const up = run((n) => n > current);
  const down = run((n) => n < current);
  if (current === 0 && inp.demand && rec > 0) {
    desired = rec;
    reason = 'demand at zero replicas: waking';
  } else {
    if (up && now - up.since >= b.scaleUpStabilizationMs) {
      desired = Math.min(Math.min(...up.ns), current + Math.max(b.maxScaleUpStep, current));
      reason = `sustained breach over ${b.scaleUpStabilizationMs / 1000}s`;
    } else if (down && now - down.since >= b.scaleDownStabilizationMs) {
      desired = Math.max(Math.max(...down.ns), current - Math.max(1, Math.floor((current * b.maxScaleDownPercent) / 100)));
      reason = desired === 0 ? `idle ${Math.round((inp.idleMs ?? 0) / 1000)}s: scaling to zero` : `below target for ${b.scaleDownStabilizationMs / 1000}s`;
    } else if (rec > current) {
      reason = 'breach not yet sustained';
    } else if (rec < current) {
      reason = 'scale-down held by the stabilization window';
    }
  }
  // Hard bounds win over everything (a raised min applies at once).
  if (desired < min) { desired = min; reason = `raised to minReplicas ${min}`; }
  if (desired > max) { desired = max; reason = `lowered to maxReplicas ${max}`; }
  return { desired, recommended: rec, reason, perMetric };
}
