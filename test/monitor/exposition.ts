import assert from 'node:assert/strict';

/**
 * A strict reader of the Prometheus text format (0.0.4): every sample line
 * must follow a TYPE line of its family, names and labels must be valid,
 * label values correctly escaped, values parse as floats.
 */
export function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number; ts?: number }[] {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const out: { name: string; labels: Record<string, string>; value: number; ts?: number }[] = [];
  const typed = new Map<string, string>();
  for (const line of text.split('\n').slice(0, -1)) {
    if (line.startsWith('# HELP ')) { assert.match(line, /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/); continue; }
    if (line.startsWith('# TYPE ')) {
      const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      assert.ok(m, `bad TYPE line: ${line}`);
      assert.ok(!typed.has(m[1]!), `TYPE repeated for ${m[1]}`);
      typed.set(m[1]!, m[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([-+]?(?:[0-9.eE+-]+|Inf|NaN))(?: (-?\d+))?$/.exec(line);
    assert.ok(m, `bad sample line: ${line}`);
    assert.ok(typed.has(m[1]!), `sample before TYPE: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(,|$)/y;
    let i = 0;
    while (i < body.length) {
      re.lastIndex = i;
      const l = re.exec(body);
      assert.ok(l, `bad labels at ${i}: ${body}`);
      labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_x, c: string) => (c === 'n' ? '\n' : c));
      i = re.lastIndex;
    }
    const value = Number(m[4]!.replace('Inf', 'Infinity'));
    assert.ok(!Number.isNaN(value) || m[4] === 'NaN');
    out.push({ name: m[1]!, labels, value, ts: m[5] ? Number(m[5]) : undefined });
  }
  return out;
}

