/** A uPlot chart in a card: made again when its shape changes, resized with the window. */
import { useEffect, useRef } from 'preact/hooks';
import type uPlot from 'uplot';

/** Chart height in the cards, in CSS pixels. */
const HEIGHT = 230;

/**
 * Mounts the chart `create` makes in the returned element, makes it again when `key` (its
 * shape: series, month) changes, keeps it as wide as its card, and gives it `data()` on every
 * render.
 */
export function useChart(
  key: string,
  create: (el: HTMLDivElement) => uPlot,
  data: () => uPlot.AlignedData,
) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = create(el);
    plot.current = u;
    const resize = () => u.setSize({ width: el.clientWidth, height: HEIGHT });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      u.destroy();
      plot.current = null;
    };
  }, [key]);

  useEffect(() => {
    plot.current?.setData(data());
  });

  return box;
}
