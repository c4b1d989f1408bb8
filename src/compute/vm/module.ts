/**
 * VM support for the compute service, as a small cloud module: owns the
 * qemu driver, wraps the host's rootfs driver in a `VmRoutingDriver` (the
 * one hook compute needs: `computeModule(config, { wrapDriver })`), records
 * the accelerator (KVM or the TCG fallback and its warning) in the status
 * of every VM instance, and reports it to `yun doctor` (from the last
 * probe, kept in the qemu state directory, since doctor does not start
 * services).
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiContext } from '../../api/context.ts';
import type { CloudConfig } from '../../core/config.ts';
import { Resources } from '../../store/resources.ts';
import type { ServiceModule } from '../../services.ts';
import { isolationGaps } from '../controller.ts';
import { type QemuCapabilities, QemuDriver } from '../drivers/qemu/index.ts';
import type { ComputeDriver } from '../drivers/types.ts';
import type { InstanceStatus } from '../types.ts';
import { defaultCacheDir } from '../images/vm/kernel.ts';
import { VmRoutingDriver } from './router.ts';

export interface VmStatus {
  accelerator: 'kvm' | 'tcg';
  /** e.g. the KVM fallback reason: VMs run under TCG, slowly. */
  warnings: string[];
  backend: string;
}

export interface VmSupportOptions {
  /** Force an accelerator (tests); default: probe KVM, fall back to TCG. */
  accelerator?: 'auto' | 'kvm' | 'tcg';
  /** Graceful ACPI shutdown wait on stop. */
  stopTimeoutMs?: number;
}

export class VmSupport implements ServiceModule {
  readonly name = 'vm';
  readonly qemu: QemuDriver;
  router?: VmRoutingDriver;
  caps?: QemuCapabilities;
  private readonly stateDir: string;
  private unsubscribe?: () => void;

  /** The accelerator probe's result from earlier in this host boot (KVM does not change without a reboot). */
  private readonly cached?: ProbeCache;

  constructor(config: CloudConfig, o: VmSupportOptions = {}) {
    this.stateDir = join(config.home, 'compute', 'qemu');
    let accelerator = o.accelerator ?? 'auto';
    if (accelerator === 'auto') {
      this.cached = readProbeCache(join(this.stateDir, 'capabilities.json')) ?? readProbeCache(join(defaultCacheDir(), 'kvm-probe.json'));
      if (this.cached) accelerator = this.cached.accelerator;
    }
    this.qemu = new QemuDriver({ stateDir: this.stateDir, accelerator, ...(o.stopTimeoutMs ? { stopTimeoutMs: o.stopTimeoutMs } : {}) });
  }

  /** The hook for compute: its rootfs driver in, the driver compute should use out. */
  wrap = (containers: ComputeDriver): ComputeDriver => {
    this.router = new VmRoutingDriver(containers, this.qemu);
    return this.router;
  };

  vmStatus(): VmStatus | undefined {
    return this.caps ? { accelerator: this.caps.accelerator, warnings: this.caps.warnings, backend: this.caps.backend } : undefined;
  }

  /** Starts the accelerator probe (it may boot a probe kernel for seconds) without holding up the cloud's start. */
  async start(ctx: ApiContext & { hostId: string }): Promise<void> {
    this.ready = this.watch(ctx).catch((err) => ctx.log.warn({ err }, 'VM support: capability probe failed'));
  }

  /** Resolves once capabilities are known and instance annotation runs (tests). */
  ready?: Promise<void>;

  private async watch(ctx: ApiContext & { hostId: string }): Promise<void> {
    const caps = await this.qemu.capabilities();
    if (this.cached) caps.warnings = this.cached.warnings;
    this.caps = caps;
    await mkdir(this.stateDir, { recursive: true });
    await writeFile(join(this.stateDir, 'capabilities.json'), JSON.stringify({ ...caps, bootId: bootId() }, null, 1));
    if (!this.cached && caps.available) {
      // host-wide: every cloud on this host (tests make many) skips the probe until the next reboot
      await mkdir(defaultCacheDir(), { recursive: true });
      await writeFile(join(defaultCacheDir(), 'kvm-probe.json'), JSON.stringify({ accelerator: caps.accelerator, warnings: caps.warnings, available: true, bootId: bootId() }));
    }
    if (this.caps.warnings.length) ctx.log.warn({ warnings: this.caps.warnings }, 'VMs: hardware acceleration unavailable');
    if (this.stopped) return;
    const res = new Resources(ctx.store);
    const annotate = async (id: string) => {
      if (!this.router?.isVm(id) || !this.caps) return;
      const vm = this.vmStatus()!;
      const gaps = isolationGaps(this.caps);
      const cur = await res.getById<Record<string, unknown>, InstanceStatus>(id);
      const ended = ['exited', 'error', 'OOMKilled'].includes(String(cur?.status.state));
      // a VM that stopped on its own: its last console lines say why (kernel panic, boot failure)
      const tail = ended && !cur?.status.consoleTail ? lastLines(await this.qemu.readLog(id, { tailBytes: 4096 }).catch(() => ''), 10) : undefined;
      await res.updateStatus<InstanceStatus>('instance', id, (s) => {
        const next: InstanceStatus = { ...s, driver: 'qemu', vm, isolationNotProvided: gaps };
        if (tail) next.consoleTail = tail;
        if (s.state === 'running' || s.state === 'starting') delete next.consoleTail;
        return JSON.stringify(next) === JSON.stringify(s) ? s : next;
      });
    };
    const since = await ctx.bus.lastSeq();
    for (const r of await res.all('instance')) await annotate(r.id).catch(() => undefined);
    this.unsubscribe = ctx.bus.subscribe({ kinds: ['instance'] }, since, (e) => {
      if (e.type !== 'DELETED') void annotate(e.object.id).catch((err) => ctx.log.debug({ err }, 'vm status annotation failed'));
    });
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    await this.ready;
    this.unsubscribe?.();
  }

  describe(): Record<string, string> {
    let caps = this.caps;
    if (!caps) {
      try {
        caps = JSON.parse(readFileSync(join(this.stateDir, 'capabilities.json'), 'utf8')) as QemuCapabilities;
      } catch {
        return { 'vm driver': 'qemu (not probed yet: start the cloud once)' };
      }
    }
    const d: Record<string, string> = { 'vm driver': caps.available ? caps.backend : `unavailable: ${caps.reason}`, 'vm accelerator': caps.accelerator };
    if (caps.warnings.length) d['vm WARNING'] = caps.warnings.join('; ');
    return d;
  }
}

interface ProbeCache { accelerator: 'kvm' | 'tcg'; warnings: string[] }

const bootId = (): string | undefined => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** A probe result written earlier in this same host boot, if any. */
function readProbeCache(file: string): ProbeCache | undefined {
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as QemuCapabilities & { bootId?: string };
    const id = bootId();
    if (!id || c.bootId !== id || !c.available) return undefined;
    return { accelerator: c.accelerator, warnings: c.warnings ?? [] };
  } catch {
    return undefined;
  }
}

function lastLines(text: string, n: number): string | undefined {
  const lines = text.replace(/\r/g, '').split('\n').filter((l) => l.trim());
  return lines.length ? lines.slice(-n).join('\n') : undefined;
}

export function vmSupport(config: CloudConfig, o: VmSupportOptions = {}): VmSupport {
  return new VmSupport(config, o);
}
