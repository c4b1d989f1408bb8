/**
 * Listing in UTF-8 byte order with prefix/delimiter roll-up and exact
 * truncation: a page holds at most `maxKeys` entries (keys + common
 * prefixes) and `next` resumes strictly after the last one returned.
 */
import { type EngineCtx, cmpUtf8, rowToVersion, VERSION_COLS } from './context.ts';
import type { ObjectVersion } from './types.ts';

export interface ListInput {
  bucket: string;
  prefix: string;
  delimiter: string;
  /** Resume strictly after this key or common prefix. */
  after: string;
  maxKeys: number;
}

export interface ListPage { contents: ObjectVersion[]; commonPrefixes: string[]; isTruncated: boolean; next?: string }

const MAX_CHAR = '\u{10FFFF}';

/** A seek position after every key under `cp`, never behind the key just seen. */
const skipPast = (cp: string, seen: string) => (cmpUtf8(cp + MAX_CHAR, seen) > 0 ? cp + MAX_CHAR : seen);

function rollUp(key: string, prefix: string, delimiter: string): string | undefined {
  if (!delimiter) return undefined;
  const i = key.indexOf(delimiter, prefix.length);
  return i < 0 ? undefined : key.slice(0, i + delimiter.length);
}

/** Current (non-deleted) objects. */
export async function listObjects(ctx: EngineCtx, i: ListInput): Promise<ListPage> {
  const page: ListPage = { contents: [], commonPrefixes: [], isTruncated: false };
  if (i.maxKeys <= 0) return page;
  let cursor = i.after && cmpUtf8(i.after, i.prefix) >= 0 ? i.after : '';
  let inclusiveFrom = cursor === '' ? i.prefix : undefined;
  let count = 0;
  let lastEmitted: string | undefined;
  const batch = Math.min(1000, i.maxKeys + 1);
  for (;;) {
    const rows = inclusiveFrom !== undefined
      ? await ctx.store.all(`SELECT ${VERSION_COLS} FROM objects_versions WHERE bucket = ? AND latest = 1 AND delete_marker = 0 AND key >= ? ORDER BY key LIMIT ?`, [i.bucket, inclusiveFrom, batch])
      : await ctx.store.all(`SELECT ${VERSION_COLS} FROM objects_versions WHERE bucket = ? AND latest = 1 AND delete_marker = 0 AND key > ? ORDER BY key LIMIT ?`, [i.bucket, cursor, batch]);
    inclusiveFrom = undefined;
    if (rows.length === 0) return page;
    let reseek = false;
    for (const r of rows) {
      const key = r.key as string;
      cursor = key;
      if (!key.startsWith(i.prefix)) return page;
      const cp = rollUp(key, i.prefix, i.delimiter);
      if (cp !== undefined) {
        if (cp === lastEmitted || (i.after && cmpUtf8(cp, i.after) <= 0)) { cursor = skipPast(cp, key); reseek = true; break; }
        if (count === i.maxKeys) { page.isTruncated = true; return page; }
        page.commonPrefixes.push(cp);
        page.next = cp;
        lastEmitted = cp;
        count++;
        cursor = skipPast(cp, key);
        reseek = true;
        break;
      }
      if (count === i.maxKeys) { page.isTruncated = true; return page; }
      page.contents.push(rowToVersion(r));
      page.next = key;
      lastEmitted = key;
      count++;
    }
    if (!reseek && rows.length < batch) return page;
  }
}

export interface VersionListInput extends Omit<ListInput, 'after'> { keyMarker: string; versionIdMarker: string }
export interface VersionPage { versions: ObjectVersion[]; commonPrefixes: string[]; isTruncated: boolean; nextKeyMarker?: string; nextVersionIdMarker?: string }

/** All versions and delete markers: key ascending, newest first within a key. */
export async function listVersions(ctx: EngineCtx, i: VersionListInput): Promise<VersionPage> {
  const page: VersionPage = { versions: [], commonPrefixes: [], isTruncated: false };
  if (i.maxKeys <= 0) return page;
  let count = 0;
  let lastCp: string | undefined;
  // Position: strictly after (key, seq). seq = -1 means "after every version of key".
  let posKey = i.keyMarker;
  let posSeq = -1;
  if (i.keyMarker && i.versionIdMarker) {
    const r = await ctx.store.get<{ seq: unknown }>('SELECT seq FROM objects_versions WHERE bucket = ? AND key = ? AND version_id = ?', [i.bucket, i.keyMarker, i.versionIdMarker]);
    if (r) posSeq = Number(r.seq);
  }
  let first = true;
  const batch = Math.min(1000, i.maxKeys + 1);
  for (;;) {
    let rows: Record<string, unknown>[];
    if (first && !i.keyMarker) {
      rows = await ctx.store.all(`SELECT ${VERSION_COLS} FROM objects_versions WHERE bucket = ? AND key >= ? ORDER BY key, seq DESC LIMIT ?`, [i.bucket, i.prefix, batch]);
    } else if (posSeq >= 0) {
      rows = await ctx.store.all(`SELECT ${VERSION_COLS} FROM objects_versions WHERE bucket = ? AND ((key = ? AND seq < ?) OR key > ?) ORDER BY key, seq DESC LIMIT ?`, [i.bucket, posKey, posSeq, posKey, batch]);
    } else {
      const from = cmpUtf8(posKey, i.prefix) < 0 ? i.prefix : posKey;
      rows = await ctx.store.all(`SELECT ${VERSION_COLS} FROM objects_versions WHERE bucket = ? AND key ${from === posKey ? '>' : '>='} ? ORDER BY key, seq DESC LIMIT ?`, [i.bucket, from, batch]);
    }
    first = false;
    if (rows.length === 0) return page;
    let reseek = false;
    for (const r of rows) {
      const v = rowToVersion(r);
      posKey = v.key;
      posSeq = v.seq;
      if (!v.key.startsWith(i.prefix)) { if (cmpUtf8(v.key, i.prefix) > 0) return page; continue; }
      const cp = rollUp(v.key, i.prefix, i.delimiter);
      if (cp !== undefined) {
        if (cp !== lastCp && !(i.keyMarker && cmpUtf8(cp, i.keyMarker) <= 0)) {
          if (count === i.maxKeys) { page.isTruncated = true; return page; }
          page.commonPrefixes.push(cp);
          page.nextKeyMarker = cp;
          page.nextVersionIdMarker = undefined;
          lastCp = cp;
          count++;
        }
        posKey = skipPast(cp, v.key);
        posSeq = -1;
        reseek = true;
        break;
      }
      if (count === i.maxKeys) { page.isTruncated = true; return page; }
      page.versions.push(v);
      page.nextKeyMarker = v.key;
      page.nextVersionIdMarker = v.versionId;
      count++;
    }
    if (!reseek && rows.length < batch) return page;
  }
}
