// Live gauges of the speed test page: an SVG arc per figure, its value and unit as text.
// No library; the scale grows in decades so that 5 Mbit/s and 5 Gbit/s both read well.

const SVG = "http://www.w3.org/2000/svg";
const START = Math.PI * 0.75; // the arc runs from 7:30 to 4:30 o'clock
const SWEEP = Math.PI * 1.5;

function arcPath(fraction) {
  const f = Math.max(0, Math.min(fraction, 1));
  const a0 = START;
  const a1 = START + SWEEP * f;
  const r = 40;
  const [x0, y0] = [50 + r * Math.cos(a0), 50 + r * Math.sin(a0)];
  const [x1, y1] = [50 + r * Math.cos(a1), 50 + r * Math.sin(a1)];
  const large = SWEEP * f > Math.PI ? 1 : 0;
  return f <= 0 ? "" : `M ${x0} ${y0} A ${r} ${r} 0 ${large} 1 ${x1} ${y1}`;
}

/** The full scale for `value`: the next of 1, 2, 5 times a power of ten above it. */
export function fullScale(value, floor) {
  let scale = floor;
  const steps = [2, 2.5, 2];
  for (let i = 0; value > scale && i < 60; i++) {
    scale *= steps[i % 3];
  }
  return scale;
}

export class Gauge {
  /** A gauge drawn into `host` (an element), labelled `label`, in `unit`. */
  constructor(host, label, unit, floor) {
    this.unit = unit;
    this.floor = floor;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 100 90");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    const track = document.createElementNS(SVG, "path");
    track.setAttribute("d", arcPath(1));
    track.setAttribute("class", "gauge-track");
    this.bar = document.createElementNS(SVG, "path");
    this.bar.setAttribute("class", "gauge-bar");
    svg.append(track, this.bar);
    const caption = document.createElement("div");
    caption.className = "gauge-caption";
    this.text = document.createElement("output");
    this.text.className = "gauge-value";
    this.text.textContent = "–";
    const name = document.createElement("span");
    name.className = "gauge-label";
    name.textContent = `${label} (${unit})`;
    caption.append(this.text, name);
    host.replaceChildren(svg, caption);
  }

  set(value) {
    if (value === null || value === undefined || !Number.isFinite(value)) {
      this.bar.setAttribute("d", "");
      this.text.textContent = "–";
      return;
    }
    this.bar.setAttribute("d", arcPath(value / fullScale(value, this.floor)));
    this.text.textContent = value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2);
  }
}
