// The one place SVG becomes PNG (reports, the CLI, chat attachments).

import { Resvg } from "@resvg/resvg-js";

/** Renders at `scale` × the SVG's own size; the white background matters for viewers that show transparency as black. */
export function svgToPng(svg: string, scale = 1): Buffer {
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: scale },
    // The SVG asks for "DejaVu Sans, …, sans-serif"; these cover text without a family and the generic fallback.
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans", sansSerifFamily: "DejaVu Sans" },
  });
  return resvg.render().asPng();
}
