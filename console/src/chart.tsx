/** Hand-rolled SVG charts: no chart library in the bundle. */
export interface Bar { label: string; value: number; tone?: string }

export function BarChart({ bars, title, height = 140 }: { bars: Bar[]; title: string; height?: number }) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const w = 36;
  const gap = 14;
  const width = Math.max(200, bars.length * (w + gap) + gap);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height + 34}`} role="img" aria-label={`${title}: ${bars.map((b) => `${b.label} ${b.value}`).join(', ')}`}>
        <line x1={0} x2={width} y1={height} y2={height} className="axis" />
        {bars.map((b, i) => {
          const h = Math.round((b.value / max) * (height - 18));
          const x = gap + i * (w + gap);
          return (
            <g key={b.label}>
              <rect x={x} y={height - h} width={w} height={h} rx={3} className={`bar ${b.tone ?? ''}`} />
              <text x={x + w / 2} y={height - h - 4} textAnchor="middle" className="val">{b.value}</text>
              <text x={x + w / 2} y={height + 16} textAnchor="middle" className="lbl">{b.label.length > 9 ? `${b.label.slice(0, 8)}…` : b.label}</text>
            </g>
          );
        })}
      </svg>
      <figcaption>{title}</figcaption>
    </figure>
  );
}

/** A line over time buckets (e.g. events per minute). */
export function Sparkline({ points, title, height = 60 }: { points: number[]; title: string; height?: number }) {
  const width = 300;
  if (points.length === 1) points = [points[0]!, points[0]!];
  const max = Math.max(1, ...points);
  const step = points.length > 1 ? width / (points.length - 1) : width;
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${(i * step).toFixed(1)},${(height - (p / max) * (height - 6) - 3).toFixed(1)}`).join(' ');
  return (
    <figure className="chart">
      <svg className="spark" style={{ height }} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}: latest ${points[points.length - 1] ?? 0}`} preserveAspectRatio="none">
        <line x1={0} x2={width} y1={height - 1} y2={height - 1} className="axis" />
        <path d={d} className="line" fill="none" />
      </svg>
      <figcaption>{title}</figcaption>
    </figure>
  );
}
