/**
 * A deterministic content digest of a directory tree: entries sorted by
 * path, each contributing its relative path, type, mode and content (file
 * bytes or symlink target). Ownership and times are left out, so the same
 * image built twice gets the same digest.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export async function treeDigest(root: string): Promise<{ sha256: string; sizeBytes: number }> {
  const h = createHash('sha256');
  let sizeBytes = 0;
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(root, rel))).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(root, r);
      const st = await lstat(abs);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) h.update(`L ${r} ${mode} ${await readlink(abs)}\0`);
      else if (st.isDirectory()) {
        h.update(`D ${r} ${mode}\0`);
        await walk(r);
      } else if (st.isFile()) {
        h.update(`F ${r} ${mode} ${st.size}\0`);
        sizeBytes += st.size;
        for await (const chunk of createReadStream(abs)) h.update(chunk as Buffer);
      } else h.update(`O ${r} ${mode}\0`);
    }
  };
  await walk('');
  return { sha256: h.digest('hex'), sizeBytes };
}
