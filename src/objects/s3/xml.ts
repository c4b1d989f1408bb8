/**
 * XML for the S3 edge: a tiny writer that emits elements in the order given
 * (S3 clients and conformance suites care about element order) and a guarded
 * parser that refuses DOCTYPE/entities, deep nesting and oversized bodies.
 */
import { XMLParser } from 'fast-xml-parser';
import { S3Error } from './errors.ts';

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function esc(s: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let r: string | undefined;
    if (c === 38) r = '&amp;';
    else if (c === 60) r = '&lt;';
    else if (c === 62) r = '&gt;';
    else if (c === 34) r = '&quot;';
    else if (c === 39) r = '&apos;';
    else if (c < 32 && c !== 9 && c !== 10) r = `&#x${c.toString(16)};`;
    else if (c === 13) r = '&#xD;';
    if (r) { out += s.slice(last, i) + r; last = i + 1; }
  }
  return last === 0 ? s : out + s.slice(last);
}

/** A node: [name, children] where children is a string, a list of nodes, or undefined (skipped). */
export type XNode = [string, string | number | boolean | XNode[] | undefined | null] | undefined | null | false;

function render(n: XNode): string {
  if (!n) return '';
  const [name, v] = n;
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return `<${name}>${v.map(render).join('')}</${name}>`;
  const s = esc(String(v));
  return `<${name}>${s}</${name}>`;
}

/** A full document with the S3 namespace on the root element. */
export function xmlDoc(root: string, children: XNode[], ns: string | null = S3_NS): string {
  const attr = ns ? ` xmlns="${ns}"` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${attr}>${children.map(render).join('')}</${root}>`;
}

const MAX_DEPTH = 24;

/**
 * Parses an S3 request document. Entities/DTDs, nesting deeper than 24 and
 * malformed input all become `MalformedXML` (or `code`), never a crash.
 * Returns the root element's content object.
 */
export function parseXml(body: Buffer | string, root: string, code: 'MalformedXML' | 'MalformedACLError' = 'MalformedXML'): Record<string, unknown> {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new S3Error(code);
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 60) continue;
    const nx = text[i + 1];
    if (nx === '/') depth--;
    else if (nx !== '?' && nx !== '!') {
      const close = text.indexOf('>', i);
      if (close > 0 && text[close - 1] !== '/') depth++;
      if (depth > max) max = depth;
      if (max > MAX_DEPTH) throw new S3Error(code);
    }
  }
  let doc: Record<string, unknown>;
  // Numeric character references (Go's encoding/xml writes `&#34;`) become
  // characters up front; the XML-special ones become their named entities.
  const NAMED: Record<string, string> = { '<': '&lt;', '&': '&amp;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
  const decoded = text.replace(/&#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}));/g, (m, hex: string | undefined, dec: string | undefined) => {
    const cp = hex !== undefined ? Number.parseInt(hex, 16) : Number(dec);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return m;
    const ch = String.fromCodePoint(cp);
    return NAMED[ch] ?? ch;
  });
  try {
    const p = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, processEntities: true, htmlEntities: false, trimValues: false, ignoreDeclaration: true });
    doc = p.parse(decoded, true) as Record<string, unknown>;
  } catch {
    throw new S3Error(code);
  }
  const r = doc[root];
  if (r === undefined) throw new S3Error(code);
  if (r === '' ) return {};
  if (typeof r !== 'object' || r === null) throw new S3Error(code);
  return r as Record<string, unknown>;
}

/** Normalises a maybe-repeated element to an array. */
export function asArray<T>(v: T | T[] | undefined): T[] {
  if (v === undefined || v === null || (v as unknown) === '') return [];
  return Array.isArray(v) ? v : [v];
}

export function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
