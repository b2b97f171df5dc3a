/*
 * A time-series chart (uPlot): x is seconds since the epoch, one line per series. Redrawn in place when data
 * changes, resized with its container.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot, { type AlignedData, type Options } from 'uplot';
import 'uplot/dist/uPlot.min.css';

const PALETTE = ['#4f46e5', '#0891b2', '#16a34a', '#ea580c', '#db2777', '#7c3aed', '#ca8a04', '#475569'];

export interface ChartProps {
  title: string;
  /** x values, seconds since the epoch, ascending */
  x: number[];
  series: Array<{ label: string; values: Array<number | null> }>;
  /** How a y value is written on the axis and in the legend */
  format?: (v: number) => string;
  height?: number;
  kind?: 'line' | 'bars';
  testId?: string;
  /** Draw each value as a dot too, so a value between gaps shows on a line chart */
  points?: boolean;
}

export function Chart({ title, x, series, format = (v) => String(v), height = 220, kind = 'line', testId, points = false }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = `${kind}|${series.map((s) => s.label).join('\u0000')}`;
  const shapeRef = useRef('');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const data = [x, ...series.map((s) => s.values)] as AlignedData;
    if (plot.current && shapeRef.current === shape) {
      plot.current.setData(data);
      return;
    }
    plot.current?.destroy();
    shapeRef.current = shape;
    const bars = kind === 'bars' ? uPlot.paths.bars?.({ size: [0.6, 40] }) : undefined;
    const opts: Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{ stroke: '#64748b', grid: { stroke: '#e2e8f0' } }, { stroke: '#64748b', grid: { stroke: '#e2e8f0' }, values: (_u, vals) => vals.map((v) => format(v)), size: 64 }],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          fill: kind === 'bars' ? `${PALETTE[i % PALETTE.length]}99` : undefined,
          width: 2,
          paths: bars,
          spanGaps: false,
          points: kind === 'bars' ? { show: false } : points ? { show: true, size: 6, fill: PALETTE[i % PALETTE.length] } : undefined,
          value: (_u: uPlot, v: number | null) => (v == null ? '–' : format(v)),
        })),
      ],
    };
    plot.current = new uPlot(opts, data, el);
  }, [x, series, shape, height, points]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(el.clientWidth, 200), height }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [height]);

  return (
    <figure class="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" />
    </figure>
  );
}
