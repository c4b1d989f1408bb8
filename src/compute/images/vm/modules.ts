import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { YunError } from '../../../core/errors.ts';

/**
 * Kernel module dependency resolution without depmod: Debian's package ships
 * no modules.dep (depmod writes it at install time), so the `depends=` field
 * of each module's `.modinfo` section is read directly.
 */

const norm = (name: string) => name.replace(/-/g, '_');

/** Map of module name → path relative to the modules dir, for every `.ko` under `kernel/`. */
export async function indexModules(modulesDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.ko')) out.set(norm(e.name.slice(0, -3)), relative(modulesDir, p));
    }
  };
  await walk(join(modulesDir, 'kernel'));
  return out;
}

/** The `depends=` list from a module file's modinfo strings. */
export function parseDepends(ko: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const i = ko.indexOf(key);
  if (i < 0) return [];
  const start = i + key.length;
  const end = ko.indexOf(0, start);
  const s = ko.subarray(start, end < 0 ? undefined : end).toString('utf8');
  return s ? s.split(',').map(norm) : [];
}

/**
 * Returns the wanted modules and all their dependencies, dependencies first
 * (the order `insmod` needs). Unknown wanted names are an error, so a renamed
 * module in a new kernel fails the build instead of a boot.
 */
export async function resolveModules(modulesDir: string, wanted: readonly string[]): Promise<string[]> {
  const index = await indexModules(modulesDir);
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = async (name: string, chain: string[]): Promise<void> => {
    const n = norm(name);
    if (seen.has(n)) return;
    if (chain.includes(n)) throw new YunError('DriverFailed', `module dependency cycle: ${[...chain, n].join(' -> ')}`);
    const rel = index.get(n);
    if (!rel) throw new YunError('DriverFailed', `kernel module '${name}' not found in ${modulesDir}`);
    for (const d of parseDepends(await readFile(join(modulesDir, rel)))) await visit(d, [...chain, n]);
    seen.add(n);
    order.push(rel);
  };
  for (const w of wanted) await visit(w, []);
  return order;
}
