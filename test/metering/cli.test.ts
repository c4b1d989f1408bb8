/** The `yun` binary against a live cloud: estimates, prices, budgets, usage and invoice export. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { resolveConfig } from '../../src/core/config.ts';
import { meteringModule } from '../../src/metering/module.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/yun.mjs');

describe('yun CLI: cost commands', () => {
  let tc: TestCloud;
  let cliHome = '';
  const yun = async (...args: string[]) => {
    const env = { ...process.env, YUN_HOME: cliHome, YUN_ENDPOINT: tc.cloud.apiUrl, YUN_TOKEN: tc.admin.token!, YUN_PROJECT: 'default' };
    return (await run(process.execPath, [BIN, ...args], { env })).stdout;
  };
  const fails = async (re: RegExp, ...args: string[]) => {
    await assert.rejects(yun(...args), (e: { stderr: string }) => re.test(e.stderr));
  };

  before(async () => {
    const home = await mkdtemp(join(tmpdir(), 'yun-cost-cli-'));
    cliHome = await mkdtemp(join(tmpdir(), 'yun-cost-cli-home-'));
    tc = await startTestCloud({ home, modules: [await meteringModule(resolveConfig({ home }, {}), { tickMs: 0 })] });
  });
  after(async () => { await tc.stop(); await rm(cliHome, { recursive: true, force: true }); });

  it('estimates: the seed example, instances, apps, bad input', async () => {
    assert.match(await yun('cost', 'estimate', 'storage', '--gb', '100', '--months', '3'), /total: 15\.00 USD/);
    const j = JSON.parse(await yun('-o', 'json', 'cost', 'estimate', 'instance', '--flavor', 'm1.small', '--hours', '720'));
    assert.equal(j.total, '18.00');
    assert.match(await yun('cost', 'estimate', 'app', 'shop', '--flavor', 'm1.small', '--replicas', '5', '--hours', '720'), /total: 90\.00 USD/);
    await fails(/unknown flavor 'm7\.mega'/, 'cost', 'estimate', 'instance', '--flavor', 'm7.mega');
    await fails(/gb must be/, 'cost', 'estimate', 'storage', '--gb', '-1');
  });

  it('prices, budgets, usage, invoices', async () => {
    assert.match(await yun('price', 'list'), /storage\.object\s+0\.05\s+GB-month/);
    const b = JSON.parse(await yun('-o', 'json', 'budget', 'create', 'monthly', '--amount', '50', '--alert', '80%', '--alert', '100%', '--alert', 'forecast:100%', '--notify', 'webhook:http://127.0.0.1:9/hook'));
    assert.deepEqual(b.spec.alerts, [{ percent: 80, basis: 'actual' }, { percent: 100, basis: 'actual' }, { percent: 100, basis: 'forecast' }]);
    await yun('metering', 'collect');
    assert.match(await yun('budget', 'list'), /monthly\s+50\s+ok\s+0\.00/);
    assert.match(await yun('usage', '--group-by', 'service'), /total: 0\.00 USD/);
    await fails(/groupBy must be/, 'usage', '--group-by', 'colour');
    const month = new Date().toISOString().slice(0, 7);
    assert.match(await yun('invoice', 'show', month), /total: 0\.00 USD/);
    const file = join(cliHome, 'inv.csv');
    await yun('invoice', 'export', month, '--format', 'csv', '--file', file);
    assert.match(await readFile(file, 'utf8'), /^month,project,service,sku,resource_kind,resource_name,resource_id,quantity,unit,amount,currency\r\n.*TOTAL.*0\.00,USD\r\n$/s);
    const yaml = await yun('-o', 'yaml', 'invoice', 'show', month);
    assert.match(yaml, /^project: /m);
  });
});
