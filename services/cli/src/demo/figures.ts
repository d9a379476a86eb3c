// The comparison picture comes as one PNG with its panels stacked (loss
// curves, then time to threshold when thresholds were asked, then scores when
// any exist), each the same height. Cutting it lets the report show each
// panel on its own without a second rendering path.
import { Resvg } from "@resvg/resvg-js";

export interface Panel {
  name: "loss" | "time_to_threshold" | "scores";
  title: string;
}

/** The panels Compare draws, top to bottom, for what was asked. */
export function comparisonPanels(thresholds: number, scores: number): Panel[] {
  const panels: Panel[] = [{ name: "loss", title: "Training loss, raw and smoothed" }];
  if (thresholds > 0) panels.push({ name: "time_to_threshold", title: "Time to reach each loss threshold" });
  if (scores > 0) panels.push({ name: "scores", title: "Benchmark scores" });
  return panels;
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 24 || signature.some((b, i) => png[i] !== b)) throw new Error("not a PNG");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** A horizontal band of a PNG, as a PNG: the band drawn through an SVG viewBox. */
export function cropPng(png: Uint8Array, top: number, height: number): Buffer {
  const { width, height: full } = pngSize(png);
  const data = Buffer.from(png).toString("base64");
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 ${top} ${width} ${height}">` +
    `<image width="${width}" height="${full}" href="data:image/png;base64,${data}"/></svg>`;
  return new Resvg(svg, { background: "white" }).render().asPng();
}

/** Each panel as its own PNG; none when the picture does not divide into equal panels. */
export function splitPanels(png: Uint8Array, panels: Panel[]): { panel: Panel; png: Buffer }[] {
  if (panels.length < 2) return [];
  const { height } = pngSize(png);
  if (height % panels.length !== 0) return [];
  const each = height / panels.length;
  return panels.map((panel, i) => ({ panel, png: cropPng(png, i * each, each) }));
}
