import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
}

// A time-series line chart (uPlot: canvas, small). x: seconds since the epoch. The figure has a
// text alternative: a caption and, for screen readers, the same numbers in a table.
export function LineChart(props: { title: string; x: number[]; series: Series[]; height?: number }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const width = Math.max(320, Math.min(900, el.clientWidth || 640));
    const opts: uPlot.Options = {
      width,
      height: props.height ?? 220,
      series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
      axes: [{}, {}],
      legend: { show: true },
    };
    const plot = new uPlot(opts, [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    return () => plot.destroy();
  }, [props.x, props.series, props.height]);
  return (
    <figure className="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={ref} aria-hidden="true" />
      <table className="sr-only">
        <caption>{props.title}</caption>
        <thead>
          <tr>
            <th scope="col">time</th>
            {props.series.map((s) => (
              <th key={s.label} scope="col">
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.x.map((t, i) => (
            <tr key={i}>
              <td>{new Date(t * 1000).toISOString()}</td>
              {props.series.map((s) => (
                <td key={s.label}>{s.values[i] ?? '—'}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
