import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool } from '../common.ts';
import { volumeDriverContract } from '../contract.test-suite.ts';
import { Qcow2VolumeDriver } from './driver.ts';

/** Guest-visible bytes go through QEMU's own block layer (qemu-io / qemu-img), never raw file offsets. */
async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'yun-qcow2-io-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

volumeDriverContract({
  name: 'qcow2',
  make: (root) => new Qcow2VolumeDriver({ root }),
  async write(d, id, offset, data) {
    const { path } = await d.attachment(id);
    await withTmp(async (dir) => {
      const src = join(dir, 'data');
      await writeFile(src, data);
      await runTool('qemu-io', ['-f', 'qcow2', '-c', `write -q -s ${src} ${offset} ${data.length}`, path]);
    });
  },
  async read(d, id, offset, length) {
    const { path } = await d.attachment(id);
    return withTmp(async (dir) => {
      const raw = join(dir, 'raw');
      await runTool('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', path, raw]);
      const fh = await open(raw, 'r');
      try {
        const buf = Buffer.alloc(length);
        const { bytesRead } = await fh.read(buf, 0, length, offset);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    });
  },
});
