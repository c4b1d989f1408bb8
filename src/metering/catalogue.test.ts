import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCatalogue, priceChanges, versionAt, versionsFor } from './catalogue.ts';

describe('price catalogue', () => {
  it('has documented built-in defaults: storage 0.05 per GB-month', () => {
    const c = buildCatalogue('us-east-1');
    assert.equal(c.currency, 'USD');
    assert.equal(c.source, 'built-in');
    assert.equal(versionsFor(c, 'storage.object')![0]!.tiers[0]!.price, 50_000n);
    // variant falls back to its meter
    assert.equal(versionsFor(c, 'volume.storage:nvme'), versionsFor(c, 'volume.storage'));
  });
  it('a file overrides per sku, region over default, with effective dates', () => {
    const c = buildCatalogue('eu-1', `
currency: EUR
regions:
  default:
    storage.object: [{ price: "0.04" }]
  eu-1:
    compute.vcpu:
      - price: "0.02"
      - from: "2026-12-01T00:00:00Z"
        price: "0.01"
`);
    assert.equal(c.currency, 'EUR');
    assert.equal(versionsFor(c, 'storage.object')![0]!.tiers[0]!.price, 40_000n);
    const v = versionsFor(c, 'compute.vcpu:container')!;
    assert.equal(versionAt(v, Date.parse('2026-11-30T23:00:00Z'))!.tiers[0]!.price, 20_000n);
    assert.equal(versionAt(v, Date.parse('2026-12-01T00:00:00Z'))!.tiers[0]!.price, 10_000n);
    assert.deepEqual(priceChanges(c), [Date.parse('2026-12-01T00:00:00Z')]);
  });
  it('a syntax error names the file and line; bad values are refused', () => {
    assert.throws(() => buildCatalogue('r', 'currency: USD\nregions:\n  default:\n    storage.object: [{ price: "0.05" }\n', '/etc/yun/prices.yaml'), /\/etc\/yun\/prices\.yaml:\d+: YAML syntax error/);
    assert.throws(() => buildCatalogue('r', 'regions:\n  default:\n    bogus.meter: [{ price: "1" }]\n', 'p.yaml'), /p\.yaml:3: unknown meter 'bogus.meter'/);
    assert.throws(() => buildCatalogue('r', 'regions:\n  default:\n    storage.object: [{ price: "-1" }]\n', 'p.yaml'), /not a decimal/);
    assert.throws(() => buildCatalogue('r', 'regions:\n  default:\n    storage.object: [{ from: "2026-01-01T00:30:00Z", price: "1" }]\n', 'p.yaml'), /whole UTC day/);
  });
});

describe('prices.yaml at start', () => {
  it('is read from $YUN_HOME; a broken file fails the module build naming file and line', async () => {
    const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { resolveConfig } = await import('../core/config.ts');
    const { meteringModule } = await import('./module.ts');
    const home = await mkdtemp(join(tmpdir(), 'yun-prices-'));
    try {
      const config = resolveConfig({ home }, {});
      assert.equal((await meteringModule(config)).catalogue.source, 'built-in');
      await writeFile(join(home, 'prices.yaml'), 'currency: EUR\nregions:\n  default:\n    storage.object: [{ price: "0.03" }]\n');
      const m = await meteringModule(config);
      assert.equal(m.catalogue.currency, 'EUR');
      assert.equal(versionsFor(m.catalogue, 'storage.object')![0]!.tiers[0]!.price, 30_000n);
      await writeFile(join(home, 'prices.yaml'), 'currency: EUR\nregions:\n  default:\n    storage.object: [{ price: "0.03" ]\n');
      await assert.rejects(meteringModule(config), (e: Error) => e.message.startsWith(`${join(home, 'prices.yaml')}:4: YAML syntax error`));
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
