/** Files every yun image gets: a minimal /etc and the usual empty directories. */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function writeBaseFiles(rootfs: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'var/log', 'root', 'home'])
    await mkdir(join(rootfs, d), { recursive: true, mode: 0o755 });
  await mkdir(join(rootfs, 'tmp'), { recursive: true, mode: 0o1777 });
  await chmod(join(rootfs, 'tmp'), 0o1777);
  const files: Record<string, string> = {
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    'etc/group': 'root:x:0:\nnogroup:x:65534:\n',
    'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
    'etc/hostname': 'localhost\n',
    'etc/resolv.conf': '',
    'etc/nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
    'etc/os-release': 'NAME="yun minimal"\nID=yun\n',
  };
  for (const [p, c] of Object.entries(files)) await writeFile(join(rootfs, p), c, { mode: 0o644 });
}
