export interface NumberFormatOptions {
  /** Decimals at most (default 4). */
  decimals?: number;
  /** Always show exactly `decimals` decimals (`12.50`); default false drops trailing zeros (`12.5`). */
  fixed?: boolean;
  /** Thousands separators (`12,345.67`); default false. */
  grouping?: boolean;
}

/**
 * A number for people, without locale surprises: `-12.5`, or `12,345.60` with
 * `{ decimals: 2, fixed: true, grouping: true }`. A value that rounds to zero has no sign.
 */
export function formatNumber(value: number, options: NumberFormatOptions = {}): string {
  if (!Number.isFinite(value)) return String(value);
  const decimals = options.decimals ?? 4;
  const abs = Math.abs(value);
  let text = options.fixed ? abs.toFixed(decimals) : String(Number(abs.toFixed(decimals)));
  if (options.grouping) {
    const [whole = "", fraction] = text.split(".");
    text = `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${fraction !== undefined ? `.${fraction}` : ""}`;
  }
  return value < 0 && /[1-9]/.test(text) ? `-${text}` : text;
}
