import { open } from 'node:fs/promises';
import { volumeDriverContract } from '../contract.test-suite.ts';
import { FileVolumeDriver } from './driver.ts';

volumeDriverContract({
  name: 'file',
  make: (root) => new FileVolumeDriver({ root }),
  async write(d, id, offset, data) {
    const fh = await open((await d.attachment(id)).path, 'r+');
    try {
      await fh.write(data, 0, data.length, offset);
    } finally {
      await fh.close();
    }
  },
  async read(d, id, offset, length) {
    const fh = await open((await d.attachment(id)).path, 'r');
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  },
});
