import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatPoints } from "./format";

/**
 * Charts with uPlot (about 20 kB gzipped, canvas, no dependencies). Each chart sits in a <figure>
 * with a caption; the same figures are always in a table next to it for keyboard and screen
 * reader users.
 */
const PALETTE = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7d8c", "#57606a"];
const HEIGHT_PX = 240;

function useChart(build: (el: HTMLElement, width: number) => uPlot, deps: unknown[]) {
  const ref = useRef<HTMLDivElement>(null);
  // Rebuilt when `deps` (the data) change.
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const plot = build(el, Math.max(el.clientWidth, 320));
    const resize = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(el.clientWidth, 320), height: HEIGHT_PX }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, deps);
  return ref;
}

const pointsAxis: uPlot.Axis = {
  size: 80,
  values: (_u, ticks) => ticks.map((t) => formatPoints(t)),
};

/** One bar per payer (the member's balance). */
export function PayerBars({ rows, caption }: { rows: { payer: string; points: number }[]; caption: string }) {
  const ref = useChart(
    (el, width) =>
      new uPlot(
        {
          width,
          height: HEIGHT_PX,
          legend: { show: false },
          cursor: { show: false },
          // Bars start at zero, or a small payer looks like nothing.
          scales: {
            x: { time: false, range: [-0.5, rows.length - 0.5] },
            y: { range: (_u, _min, max) => [Math.min(0, _min), max > 0 ? max * 1.1 : 1] },
          },
          axes: [
            {
              values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? (rows[t]?.payer ?? "") : "")),
              splits: () => rows.map((_, i) => i),
              gap: 4,
            },
            pointsAxis,
          ],
          series: [
            {},
            {
              label: "points",
              fill: `${PALETTE[0]}cc`,
              stroke: PALETTE[0],
              paths: uPlot.paths.bars?.({ size: [0.6, 80] }),
              points: { show: false },
            },
          ],
        },
        [rows.map((_, i) => i), rows.map((r) => r.points)],
        el,
      ),
    [JSON.stringify(rows)],
  );
  return (
    <figure>
      <div ref={ref} class="chart" role="img" aria-label={caption} />
      <figcaption>{caption}</figcaption>
    </figure>
  );
}

export interface DailySeries {
  label: string;
  values: number[];
}

/** Movements per UTC day, one line per kind of movement. */
export function DailyLines(props: { days: string[]; series: DailySeries[]; caption: string }) {
  const ref = useChart(
    (el, width) =>
      new uPlot(
        {
          width,
          height: HEIGHT_PX,
          scales: { x: { time: true } },
          // Days are UTC days: label them in UTC, whatever the viewer's zone.
          tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
          axes: [{}, pointsAxis],
          series: [
            {
              label: "day (UTC)",
              value: (_u, v) => (v === null ? "" : new Date(v * 1000).toISOString().slice(0, 10)),
            },
            ...props.series.map((s, i) => ({
              label: s.label,
              stroke: PALETTE[i % PALETTE.length],
              width: 2,
              value: (_u: uPlot, v: number | null) => (v === null ? "" : formatPoints(v)),
            })),
          ],
        },
        [props.days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000), ...props.series.map((s) => s.values)],
        el,
      ),
    [JSON.stringify(props.days), JSON.stringify(props.series)],
  );
  return (
    <figure>
      <div ref={ref} class="chart" role="img" aria-label={props.caption} />
      <figcaption>{props.caption}</figcaption>
    </figure>
  );
}
