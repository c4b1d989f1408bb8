/**
 * Lifecycle controller: a periodic, level-triggered pass over every bucket
 * with lifecycle rules. Expires current versions (delete marker when
 * versioned), permanently removes noncurrent versions past their age,
 * removes expired-object delete markers and aborts stale multipart uploads.
 * Safe to run at any time and repeatedly.
 */
import type { EngineCtx } from './context.ts';
import { num, rowToBucket, rowToVersion, VERSION_COLS } from './context.ts';
import { abortUpload, getUpload } from './multipart.ts';
import { deleteObject } from './objects.ts';
import type { LifecycleRule, ObjectVersion, Principal } from './types.ts';

const DAY = 86_400_000;

const tagsMatch = (rule: LifecycleRule, v: ObjectVersion) => rule.tags.every((t) => v.tags.some((x) => x.key === t.key && x.value === t.value));

export async function runLifecycle(ctx: EngineCtx, dayMs = DAY): Promise<{ expired: number; noncurrent: number; aborted: number; markers: number }> {
  const stats = { expired: 0, noncurrent: 0, aborted: 0, markers: 0 };
  const now = ctx.now();
  const buckets = (await ctx.store.all("SELECT * FROM objects_buckets WHERE config LIKE '%lifecycle%'")).map(rowToBucket);
  for (const b of buckets) {
    const rules = (b.config.lifecycle ?? []).filter((r) => r.status === 'Enabled');
    if (rules.length === 0) continue;
    const sys: Principal = { accessKeyId: '', userId: b.ownerId, projectId: b.projectId, ownerDisplayName: b.ownerName };
    for (const rule of rules) {
      const rows = await ctx.store.all(`SELECT ${VERSION_COLS} FROM objects_versions WHERE bucket = ? AND key >= ? ORDER BY key, seq DESC`, [b.name, rule.prefix]);
      let curKey = '';
      let newer = 0;
      let noncurrentSince = 0;
      for (const r of rows) {
        const v = rowToVersion(r);
        if (!v.key.startsWith(rule.prefix)) break;
        if (v.key !== curKey) { curKey = v.key; newer = 0; noncurrentSince = 0; }
        if (v.latest) {
          noncurrentSince = v.mtimeMs;
          if (v.deleteMarker) {
            const others = rows.filter((x) => x.key === v.key).length;
            if (rule.expiredObjectDeleteMarker && others === 1) { await deleteObject(ctx, b.name, v.key, v.versionId, sys); stats.markers++; }
            continue;
          }
          if (!tagsMatch(rule, v)) continue;
          const due = (rule.expirationDays !== undefined && now - v.mtimeMs >= rule.expirationDays * dayMs) || (rule.expirationDate !== undefined && now >= Date.parse(rule.expirationDate));
          if (due) { await deleteObject(ctx, b.name, v.key, undefined, sys); stats.expired++; }
          continue;
        }
        // Noncurrent: became noncurrent when its successor was written.
        newer++;
        const since = noncurrentSince || v.mtimeMs;
        noncurrentSince = v.mtimeMs;
        if (rule.noncurrentDays !== undefined && now - since >= rule.noncurrentDays * dayMs && (rule.newerNoncurrentVersions === undefined || newer > rule.newerNoncurrentVersions)) {
          await deleteObject(ctx, b.name, v.key, v.versionId, sys);
          stats.noncurrent++;
        }
      }
      if (rule.abortIncompleteDays !== undefined) {
        const ups = await ctx.store.all<{ upload_id: string; key: string; initiated_ms: unknown }>('SELECT upload_id, key, initiated_ms FROM objects_uploads WHERE bucket = ? AND key >= ?', [b.name, rule.prefix]);
        for (const u of ups) {
          if (!u.key.startsWith(rule.prefix) || now - num(u.initiated_ms) < rule.abortIncompleteDays * dayMs) continue;
          try { await abortUpload(ctx, await getUpload(ctx, b.name, u.key, u.upload_id)); stats.aborted++; } catch { /* completed or aborted meanwhile */ }
        }
      }
    }
  }
  return stats;
}
