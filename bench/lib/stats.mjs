// Small numeric helpers for the report.

export function median(xs) {
  const a = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y)
  if (a.length === 0) return NaN
  const m = a.length >> 1
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2
}

/** Rotate `xs` left by `r` (the order of configs in repetition r: A B C, B C A, C A B, ...). */
export function rotate(xs, r) {
  const k = r % xs.length
  return [...xs.slice(k), ...xs.slice(0, k)]
}

/** A number for a table: `d` decimals, thousands separated; '–' when not a number. */
export function fmt(x, d = 0) {
  if (x === undefined || x === null || !Number.isFinite(x)) return '–'
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
}

export const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN)

/** A target line: { what, value (text), target (text), met: true | false | undefined (not measured) } */
export function target(what, value, targetText, met) {
  return { what, value, target: targetText, met: Number.isNaN(met) ? undefined : met }
}

export function table(head, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n')
}
