// How wide the graph's text is in this browser: the advance width of every
// printable ASCII character in the graph's font, for state names (bold
// 12 px) and for details and edge labels (11 px), measured once per page
// on a canvas and kept in the `wfdsl_text` cookie. The server lays graphs
// out with it (dsl/text_metrics.py), so boxes fit the text as drawn here
// rather than an estimate. Every page loads this module (base.html).

const SVG_NS = "http://www.w3.org/2000/svg";
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
const COOKIE = "wfdsl_text";

// The font the drawing's text gets (designer.css sets it on .graph-svg).
function graphFont() {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "graph-svg");
  svg.setAttribute("aria-hidden", "true");
  svg.style.cssText = "position:absolute;width:0;height:0;visibility:hidden";
  const text = document.createElementNS(SVG_NS, "text");
  svg.append(text);
  document.body.append(svg);
  const family = getComputedStyle(text).fontFamily;
  svg.remove();
  return family;
}

// Tenths of a pixel, rounded up (a box never comes out short), two base-36 digits each.
function encode(context, font) {
  context.font = font;
  return PRINTABLE.map((ch) => {
    const tenths = Math.min(36 * 36 - 1, Math.max(1, Math.ceil(context.measureText(ch).width * 10)));
    return tenths.toString(36).padStart(2, "0");
  }).join("");
}

export function measureTextMetrics() {
  const family = graphFont();
  const context = document.createElement("canvas").getContext("2d");
  if (!context) return null;
  return `v1.${encode(context, `bold 12px ${family}`)}.${encode(context, `11px ${family}`)}`;
}

function current() {
  const found = document.cookie.split("; ").find((c) => c.startsWith(COOKIE + "="));
  return found ? found.slice(COOKIE.length + 1) : null;
}

const measured = measureTextMetrics();
if (measured && measured !== current()) {
  document.cookie = `${COOKIE}=${measured}; path=/; max-age=31536000; SameSite=Strict`;
}
