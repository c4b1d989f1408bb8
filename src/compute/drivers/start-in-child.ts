/**
 * Test support: create and start one workload from a SEPARATE Node process
 * that then exits, like a control plane that dies right after starting a
 * workload. Usage (argv[2] is JSON):
 *   node --import tsx start-in-child.ts '{"module":"/abs/driver.ts","exportName":"OciDriver","stateDir":"...","spec":{...}}'
 * Prints the workload's status as JSON on stdout.
 */
import type { ComputeDriver, WorkloadSpec } from './types.ts';

const arg = JSON.parse(process.argv[2] ?? '{}') as { module: string; exportName: string; options?: object; stateDir: string; spec: WorkloadSpec };
const mod = (await import(arg.module)) as Record<string, new (o: { stateDir: string }) => ComputeDriver>;
const driver = new mod[arg.exportName]!({ ...arg.options, stateDir: arg.stateDir });
await driver.create(arg.spec);
await driver.start(arg.spec.id);
process.stdout.write(JSON.stringify(await driver.inspect(arg.spec.id)));
