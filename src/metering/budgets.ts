/**
 * Budgets: an amount per calendar month with alert thresholds on actual or
 * forecast spend. Each (budget, month, threshold, basis) fires once: the
 * alert row is inserted with ON CONFLICT DO NOTHING and only the inserter
 * notifies. Notifications go to webhooks (POST JSON, retried with backoff
 * across evaluations until delivered or out of attempts) and to the event
 * stream (the budget's status, written each evaluation).
 */
import { Type } from '@sinclair/typebox';
import type { ResourceDef } from '../api/resources.ts';
import { invalid } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Resource } from '../core/resource.ts';
import { Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import { monthStart } from './aggregate.ts';
import { type Micro, formatMoney, parseMoney, percentOf } from './money.ts';

export interface BudgetAlert { percent: number; basis?: 'actual' | 'forecast' }
export interface BudgetSpec {
  /** Decimal amount in the catalogue currency, e.g. "50" or "50.00". */
  amount: string;
  period?: 'monthly';
  alerts?: BudgetAlert[];
  /** `webhook:http://…` targets. The event stream always sees status changes. */
  notify?: string[];
  /** `hard`: new billable resources are refused while actual spend is at or over the amount (see `budgetBlocks`). */
  enforce?: 'none' | 'hard';
}
export interface BudgetStatus {
  state?: 'ok' | 'alerting' | 'exceeded';
  period?: string;
  currency?: string;
  actual?: string;
  forecast?: string;
  percentActual?: number;
  percentForecast?: number;
  fired?: { percent: number; basis: string; at: string; delivered: boolean }[];
  evaluatedAt?: string;
  [k: string]: unknown;
}

export const BudgetSpecSchema = Type.Object({
  amount: Type.String({ maxLength: 24 }),
  period: Type.Optional(Type.Literal('monthly')),
  alerts: Type.Optional(Type.Array(Type.Object({
    percent: Type.Number({ exclusiveMinimum: 0, maximum: 1000 }),
    basis: Type.Optional(Type.Union([Type.Literal('actual'), Type.Literal('forecast')])),
  }, { additionalProperties: false }), { maxItems: 20 })),
  notify: Type.Optional(Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 10 })),
  enforce: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('hard')])),
}, { additionalProperties: false });

function validate(spec: BudgetSpec): BudgetSpec {
  const amount = parseMoney(spec.amount, '/spec/amount');
  if (amount <= 0n) throw invalid('/spec/amount', 'amount must be more than 0');
  for (const [i, n] of (spec.notify ?? []).entries()) {
    const m = /^webhook:(.+)$/.exec(n);
    let ok = false;
    if (m) { try { ok = ['http:', 'https:'].includes(new URL(m[1]!).protocol); } catch { ok = false; } }
    if (!ok) throw invalid(`/spec/notify/${i}`, `'${n}' is not a notification target (webhook:http://… or webhook:https://…)`);
  }
  return { ...spec, period: 'monthly', alerts: spec.alerts ?? [{ percent: 100, basis: 'actual' }] };
}

export const budgetDef = (): ResourceDef<BudgetSpec, BudgetStatus> => ({
  kind: 'budget', plural: 'budgets', service: 'metering', idPrefix: 'bud', spec: BudgetSpecSchema, deletion: 'immediate',
  prepare: async (spec) => validate(spec),
  initialStatus: () => ({ state: 'ok' }),
});

export interface Spend { actual: Micro; forecast: Micro; currency: string }

export interface BudgetControllerOptions {
  store: StateStore;
  spend(project: string, now: number): Promise<Spend>;
  now?: () => number;
  log?: Logger;
  poke?: () => void;
  fetch?: typeof fetch;
  maxAttempts?: number;
  /** Tries per evaluation before leaving the rest to the next one. */
  triesPerRound?: number;
  backoffMs?: number;
}

interface AlertRow { budget_id: string; period: string; threshold: number; basis: string; project: string; payload: string; fired_ms: number | string; attempts: number; delivered_ms: number | string | null }

export class BudgetController {
  constructor(private readonly o: BudgetControllerOptions) {}

  /** Evaluates every budget once: fires new thresholds, retries undelivered webhooks, writes status. */
  async evaluate(): Promise<void> {
    const now = (this.o.now ?? Date.now)();
    const period = new Date(monthStart(now)).toISOString().slice(0, 7);
    const budgets = await new Resources(this.o.store).all<BudgetSpec, BudgetStatus>('budget');
    const spendCache = new Map<string, Spend>();
    for (const b of budgets) {
      let s = spendCache.get(b.project);
      if (!s) { s = await this.o.spend(b.project, now); spendCache.set(b.project, s); }
      await this.fire(b, s, period, now);
    }
    await this.deliverPending(budgets, now);
    for (const b of budgets) await this.writeStatus(b, spendCache.get(b.project)!, period);
    this.o.poke?.();
  }

  private async fire(b: Resource<BudgetSpec, BudgetStatus>, s: Spend, period: string, now: number): Promise<void> {
    const amount = parseMoney(b.spec.amount);
    for (const a of b.spec.alerts ?? []) {
      const basis = a.basis ?? 'actual';
      const value = basis === 'forecast' ? s.forecast : s.actual;
      // value/amount ≥ percent/100, in integers (percent may carry decimals: scale by 1000).
      if (value * 100_000n < amount * BigInt(Math.round(a.percent * 1000))) continue;
      const payload = {
        type: 'budget.threshold', budget: b.name, budgetId: b.id, project: b.project, period, threshold: a.percent, basis,
        amount: formatMoney(amount), actual: formatMoney(s.actual), forecast: formatMoney(s.forecast), currency: s.currency, firedAt: new Date(now).toISOString(),
      };
      await this.o.store.run(`INSERT INTO metering_budget_alerts (budget_id, period, threshold, basis, project, payload, fired_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (budget_id, period, threshold, basis) DO NOTHING`, [b.id, period, Math.round(a.percent * 1000), basis, b.project, JSON.stringify(payload), now]);
    }
  }

  private async writeStatus(b: Resource<BudgetSpec, BudgetStatus>, s: Spend, period: string): Promise<void> {
    const amount = parseMoney(b.spec.amount);
    const rows = await this.o.store.all<AlertRow>('SELECT * FROM metering_budget_alerts WHERE budget_id = ? AND period = ? ORDER BY fired_ms, threshold', [b.id, period]);
    const pa = percentOf(s.actual, amount);
    await new Resources(this.o.store).updateStatus<BudgetStatus>('budget', b.id, (cur) => ({
      ...cur,
      state: s.actual >= amount ? 'exceeded' : rows.length ? 'alerting' : 'ok',
      period, currency: s.currency, actual: formatMoney(s.actual), forecast: formatMoney(s.forecast),
      percentActual: Math.round(pa * 100) / 100, percentForecast: Math.round(percentOf(s.forecast, amount) * 100) / 100,
      fired: rows.map((r) => ({ percent: r.threshold / 1000, basis: r.basis, at: new Date(Number(r.fired_ms)).toISOString(), delivered: r.delivered_ms !== null })),
    }));
  }

  private async deliverPending(budgets: Resource<BudgetSpec, BudgetStatus>[], now: number): Promise<void> {
    const max = this.o.maxAttempts ?? 8;
    const pending = await this.o.store.all<AlertRow>('SELECT * FROM metering_budget_alerts WHERE delivered_ms IS NULL AND attempts < ?', [max]);
    for (const row of pending) {
      const b = budgets.find((x) => x.id === row.budget_id);
      const hooks = (b?.spec.notify ?? []).filter((n) => n.startsWith('webhook:')).map((n) => n.slice(8));
      let error: string | undefined;
      let attempts = row.attempts;
      for (let i = 0; i < (this.o.triesPerRound ?? 3) && attempts < max; i++) {
        attempts++;
        error = await this.post(hooks, row.payload);
        if (!error) break;
        await new Promise((r) => setTimeout(r, (this.o.backoffMs ?? 200) * 2 ** i));
      }
      await this.o.store.run('UPDATE metering_budget_alerts SET attempts = ?, delivered_ms = ?, last_error = ? WHERE budget_id = ? AND period = ? AND threshold = ? AND basis = ?',
        [attempts, error ? null : now, error ?? null, row.budget_id, row.period, row.threshold, row.basis]);
      if (error) this.o.log?.warn({ budget: row.budget_id, attempts, error }, 'budget webhook not delivered yet');
    }
  }

  /** POSTs to every hook; returns the first error, or undefined when all answered 2xx. */
  private async post(hooks: string[], payload: string): Promise<string | undefined> {
    const f = this.o.fetch ?? fetch;
    for (const url of hooks) {
      try {
        const res = await f(url, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'yun-metering' }, body: payload, signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status < 200 || res.status > 299) return `${url}: HTTP ${res.status}`;
      } catch (e) {
        return `${url}: ${(e as Error).message}`;
      }
    }
    return undefined;
  }
}

/**
 * For services creating billable resources: true when a `hard` budget of
 * the project is at or over its amount (from the last evaluation). Existing
 * resources keep running; only creates should be refused (QuotaExceeded).
 */
export async function budgetBlocks(store: StateStore, project: string): Promise<string | undefined> {
  const budgets = await new Resources(store).all<BudgetSpec, BudgetStatus>('budget', project);
  const over = budgets.find((b) => b.spec.enforce === 'hard' && b.status.state === 'exceeded');
  return over ? `budget '${over.name}' is exceeded (${over.status.actual} of ${over.spec.amount} ${over.status.currency ?? ''})`.trim() : undefined;
}
