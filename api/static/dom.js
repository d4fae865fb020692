// DOM helpers shared by the page's modules. Text from the server is only ever set via textContent.

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// Offsets from the server count Unicode code points; slice by code points, not UTF-16 units.
function sliceCp(chars, start, end) {
  return chars.slice(Math.max(0, start), Math.max(0, end)).join("");
}

// Append `text` to `parent`, wrapping the code-point ranges of `marks` ([start, end, className|null]).
export function appendMarked(parent, text, marks) {
  const chars = Array.from(text);
  const cuts = new Set([0, chars.length]);
  for (const [s, e] of marks) { cuts.add(Math.min(Math.max(s, 0), chars.length)); cuts.add(Math.min(Math.max(e, 0), chars.length)); }
  const points = [...cuts].sort((a, b) => a - b);
  for (let i = 0; i + 1 < points.length; i++) {
    const [s, e] = [points[i], points[i + 1]];
    let node = document.createTextNode(sliceCp(chars, s, e));
    for (const [ms, me, cls] of marks.slice().reverse()) {
      if (s >= ms && e <= me && ms < me) {
        const wrap = cls ? el("span", cls) : el("mark");
        wrap.appendChild(node);
        node = wrap;
      }
    }
    parent.appendChild(node);
  }
}
