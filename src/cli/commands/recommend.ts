/** `yun recommend shop [--window 1h]` (or group/x, instance/x): a suggested flavor from observed usage. */
import type { Command } from 'commander';
import { AutoscaleApi } from '../../sdk/autoscale.ts';
import type { CliEnv } from '../env.ts';

export function registerRecommendCommands(program: Command, env: CliEnv): void {
  program.command('recommend <target>').description('rightsizing: suggested flavor from observed CPU p95 and peak memory')
    .option('--window <duration>', 'how far back to look', '1h')
    .action(async (target: string, o: { window: string }) => {
      const r = await new AutoscaleApi(await env.client()).recommend(target, o.window);
      if (env.format() !== 'table') return env.out(r);
      env.out({
        target: r.target, change: r.change,
        current: r.current.flavor ?? `${r.current.vcpus} vCPU / ${r.current.ramMb} MiB`,
        suggested: r.suggested ? `${r.suggested.flavor} (${r.suggested.vcpus} vCPU / ${r.suggested.ramMb} MiB)` : '',
        samples: r.samples, reason: r.reason,
      });
    });
}
