/**
 * Typed client for metering: prices, the cost explorer, invoices, budgets
 * and estimates. `metering(client)` over any logged-in `YunClient`.
 */
import type { Resource } from '../core/resource.ts';
import type { BudgetSpec, BudgetStatus } from '../metering/budgets.ts';
import type { Estimate, EstimateRequest } from '../metering/estimates.ts';
import type { UsageReport } from '../metering/explorer.ts';
import type { Invoice } from '../metering/invoices.ts';
import type { ResourceClient, YunClient } from './client.ts';

export type { BudgetSpec, BudgetStatus, Estimate, EstimateRequest, Invoice, UsageReport };

export interface PriceRow { sku: string; service: string; unit: string; description: string; from?: string; price?: string; tiers?: { upTo?: number; price: string }[] }
export interface PriceList { region: string; currency: string; source: string; items: PriceRow[] }
export interface InvoiceSummary { month: string; state: Invoice['state']; total: string; currency: string; lines: number }

export class MeteringApi {
  readonly budgets: ResourceClient<BudgetSpec, BudgetStatus>;

  constructor(private readonly c: YunClient) {
    this.budgets = c.resource<BudgetSpec, BudgetStatus>('budgets');
  }

  prices(): Promise<PriceList> { return this.c.request('GET', '/v1/prices'); }

  /** Cost explorer. `groupBy`: service | sku | resource | day | project | label:<key>. */
  usage(q: { since?: string; until?: string; groupBy?: string; allProjects?: boolean } = {}): Promise<UsageReport & { project: string }> {
    return this.c.request('GET', '/v1/usage', { query: q });
  }

  invoices(): Promise<{ items: InvoiceSummary[] }> { return this.c.request('GET', '/v1/invoices'); }
  invoice(month: string): Promise<Invoice & { projectName: string }> { return this.c.request('GET', `/v1/invoices/${encodeURIComponent(month)}`); }

  /** The invoice as CSV text. */
  async invoiceCsv(month: string): Promise<string> {
    const headers: Record<string, string> = { accept: 'text/csv' };
    if (this.c.token) headers.authorization = `Bearer ${this.c.token}`;
    if (this.c.project) headers['x-yun-project'] = this.c.project;
    const res = await fetch(`${this.c.endpoint}/v1/invoices/${encodeURIComponent(month)}?format=csv`, { headers });
    const text = await res.text();
    if (!res.ok) {
      // Same error shape as every other call.
      await this.c.request('GET', `/v1/invoices/${encodeURIComponent(month)}`);
      throw new Error(`invoice export failed: HTTP ${res.status} ${text}`);
    }
    return text;
  }

  estimate(req: EstimateRequest): Promise<Estimate> { return this.c.request('POST', '/v1/estimates', { body: req }); }

  /** Runs a metering pass now (cloud admins). */
  collect(): Promise<{ ok: boolean; at: string }> { return this.c.request('POST', '/v1/metering/collect'); }

  createBudget(name: string, spec: BudgetSpec, labels?: Record<string, string>): Promise<Resource<BudgetSpec, BudgetStatus & Record<string, unknown>>> {
    return this.budgets.create(name, spec, { labels });
  }
}

export const metering = (c: YunClient) => new MeteringApi(c);
