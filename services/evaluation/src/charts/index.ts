// Charts for comparing fine-tuning runs, drawn as SVG by hand and rendered to PNG with resvg.

export { escapeXml, grid } from "./svg";
export { niceTicks, logTicks, linearScale, logScale, formatTick, type Ticks, type Scale } from "./scale";
export { lineChart, downsample, type XY, type LineSeries, type LineChartOptions } from "./line";
export { barChart, type BarSeries, type BarChartOptions } from "./bars";
export { svgToPng } from "./png";
export { comparisonPanels, comparisonPng, timeUnit, type RunCurve, type ComparisonPictureInput, type PanelName } from "./comparison";
export { PALETTE, colourOf } from "./frame";
