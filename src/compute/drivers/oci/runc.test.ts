/** The oci driver with runc instead of crun: the same contract. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBusyboxImage } from '../../images/busybox.ts';
import { computeDriverContract } from '../contract.test-suite.ts';
import { OciDriver } from './driver.ts';
import type { OciRuntimeInfo } from './runtime.ts';

const runtime: OciRuntimeInfo = { name: 'runc', path: '/usr/bin/runc', version: 'debian' };
let imageDir: string | undefined;

computeDriverContract({
  name: 'oci-runc',
  makeDriver: (stateDir) => new OciDriver({ stateDir, runtime }),
  unavailable: async () => {
    if (!existsSync(runtime.path)) return 'runc not installed (apt-get install runc)';
    if (!existsSync('/bin/busybox')) return 'busybox-static not installed';
    const caps = await new OciDriver({ stateDir: join(tmpdir(), 'yun-runc-probe'), runtime }).capabilities();
    return caps.available ? undefined : caps.reason;
  },
  imageRootfs: async () => {
    imageDir = await mkdtemp(join(tmpdir(), 'yun-runc-image-'));
    return (await buildBusyboxImage(imageDir)).rootfs;
  },
  teardown: async () => {
    if (imageDir) await rm(imageDir, { recursive: true, force: true });
  },
  childProcess: { module: fileURLToPath(new URL('./driver.ts', import.meta.url)), exportName: 'OciDriver', options: { runtime } },
});
