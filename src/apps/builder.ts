/**
 * Builds a source revision into an image in compute's image store: the
 * runtime's base image (`node`, `python` or `busybox`) plus the source
 * under /app, uploaded as a rootfs tar through the image service. Node apps
 * with dependencies get `npm ci --omit=dev --offline` on the host first (no
 * registry traffic: the host's npm cache must hold the packages). A failed
 * build records its log on the revision and leaves the previous revision
 * serving.
 *
 * What it cannot do: pip installs (Python apps must vendor their packages),
 * native module builds for a different libc, image garbage collection of
 * pruned revisions.
 */
import { spawn } from 'node:child_process';
import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageService } from '../compute/images-service.ts';
import type { ImageSpec, ImageStatus } from '../compute/types.ts';
import { run } from '../compute/drivers/host.ts';
import type { Logger } from '../core/log.ts';
import { type EventBus, Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import type { App, Revision } from './revisions.ts';
import type { SourceStore } from './source.ts';
import type { AppSourceRef, RevisionStatus } from './types.ts';

export interface BuilderDeps {
  store: StateStore;
  log: Logger;
  sources: SourceStore;
  images: () => ImageService | undefined;
  bus: EventBus;
  workDir: string;
}

const BASE: Record<AppSourceRef['runtime'], string> = { node: 'node', python: 'python', static: 'busybox' };

/** argv of a source runtime inside the image (working dir /app). */
export async function runtimeCommand(runtime: AppSourceRef['runtime'], dir: string, port: number): Promise<string[]> {
  if (runtime === 'static') return ['httpd', '-f', '-p', String(port), '-h', '/app'];
  if (runtime === 'python') {
    for (const f of ['main.py', 'app.py']) if (await access(join(dir, f)).then(() => true, () => false)) return ['python3', f];
    throw new Error('python apps need main.py or app.py');
  }
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { scripts?: { start?: string }; main?: string };
  // `npm start` runs the start script with sh; the image has busybox sh but no npm.
  if (pkg.scripts?.start) return ['/bin/sh', '-c', pkg.scripts.start];
  return ['node', pkg.main ?? 'server.js'];
}

export class SourceBuilder {
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly d: BuilderDeps) {}

  build(app: App, rev: Revision): void {
    if (this.running.has(rev.id)) return;
    const p = this.run(app, rev).catch((e) => this.d.log.warn({ err: e, app: app.name }, 'source build bookkeeping failed')).finally(() => this.running.delete(rev.id));
    this.running.set(rev.id, p);
  }

  async idle(): Promise<void> {
    await Promise.all(this.running.values());
  }

  private async setStatus(rev: Revision, st: RevisionStatus): Promise<void> {
    await new Resources(this.d.store).updateStatus<RevisionStatus>('app-revision', rev.id, (s) => ({ ...s, ...st }));
    this.d.bus.poke();
  }

  private async run(app: App, rev: Revision): Promise<void> {
    const src = rev.spec.template.source!;
    const images = this.d.images();
    const log: string[] = [];
    const work = join(this.d.workDir, rev.id);
    try {
      if (!images) throw new Error('the compute service is not running here');
      const base = await images.resolve(this.d.store, app.project, BASE[src.runtime]).catch(() => {
        throw new Error(`the ${src.runtime} runtime needs an image named '${BASE[src.runtime]}' in the image store (${src.runtime === 'python' ? 'yun image import a python rootfs --name python' : `yun image build ${BASE[src.runtime]}`})`);
      });
      if (base.status.state !== 'available') throw new Error(`base image '${base.name}' is ${base.status.state}`);
      await rm(work, { recursive: true, force: true });
      const appDir = join(work, 'overlay', 'app');
      await this.d.sources.extract(src.sha256, appDir);
      log.push(`source ${src.sha256.slice(0, 12)} (${src.runtime}) extracted`);
      if (src.runtime === 'node') await this.npm(appDir, log);
      if (src.runtime === 'python') {
        const req = (await readFile(join(appDir, 'requirements.txt'), 'utf8').catch(() => '')).split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
        if (req.length) throw new Error(`requirements.txt lists ${req.length} package(s); yun cannot pip install here: vendor them into the folder`);
      }
      const command = rev.spec.template.command ? undefined : await runtimeCommand(src.runtime, appDir, rev.spec.template.port);
      const imgName = `${app.name.slice(0, 50)}-src-r${rev.spec.revision}`;
      const res = new Resources(this.d.store);
      let img = await res.get<ImageSpec, ImageStatus>('image', app.project, imgName);
      if (img && img.status.state === 'error') { await res.delete(img); img = undefined; }
      img ??= await res.create<ImageSpec, ImageStatus>({
        kind: 'image', project: app.project, name: imgName, idPrefix: 'img', labels: { app: app.name, revision: String(rev.spec.revision) },
        spec: { source: { upload: 'rootfs' }, description: `app ${app.name} revision ${rev.spec.revision} (${src.runtime})` }, status: { state: 'pending' },
      });
      if (img.status.state !== 'available') {
        const tar = spawn('tar', ['-c', '-C', images.rootfs(base.id), '.', '-C', join(work, 'overlay'), 'app'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        tar.stderr.on('data', (c: Buffer) => { err += c.toString(); });
        const closed = new Promise<number>((r) => tar.on('close', (c) => r(c ?? 1)));
        await images.upload(img, tar.stdout);
        const code = await closed;
        if (code !== 0) throw new Error(`tar failed: ${err.trim()}`);
      }
      log.push(`image ${imgName} ready`);
      await this.setStatus(rev, { state: 'ready', image: imgName, workingDir: '/app', ...(command ? { command } : {}), buildLog: log.join('\n') });
    } catch (e) {
      log.push(`build failed: ${(e as Error).message}`);
      await this.setStatus(rev, { state: 'failed', reason: (e as Error).message, buildLog: log.join('\n') });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  private async npm(dir: string, log: string[]): Promise<void> {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8').catch(() => '{}')) as { dependencies?: Record<string, string> };
    if (!Object.keys(pkg.dependencies ?? {}).length) { log.push('no dependencies: npm ci skipped'); return; }
    const hasLock = await access(join(dir, 'package-lock.json')).then(() => true, () => false);
    const args = hasLock ? ['ci', '--omit=dev', '--offline', '--ignore-scripts'] : ['install', '--omit=dev', '--offline', '--ignore-scripts'];
    const r = await run('npm', args, { cwd: dir, timeoutMs: 300_000 });
    log.push(`$ npm ${args.join(' ')}`, r.stdout.trim(), r.stderr.trim());
    if (r.code !== 0) throw new Error(`npm ${args[0]} failed (exit ${r.code}); see the build log`);
    await mkdir(join(dir, 'node_modules'), { recursive: true });
  }
}
