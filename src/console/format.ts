/**
 * How the console writes times, amounts and stream URLs. Times are UTC throughout (days in usage
 * reports are UTC days), written `YYYY-MM-DD HH:MM:SS` so they sort and compare by eye.
 */
import { timestampToMs } from '../zego/types';

/** `2026-12-01 10:22:03` (UTC) from an ISO time or epoch ms; `—` when absent or unreadable. */
export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) return typeof value === 'string' ? value : '—';
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, '')
    .replace(/Z$/, '');
}

/** A ZEGO `Timestamp` (seconds, or ms when ≥ 1e12) as a UTC time; null when not a number. */
export function zegoTimestampMs(timestamp: string): number | null {
  const ms = timestampToMs(timestamp);
  return Number.isFinite(ms) ? ms : null;
}

/** `1 h 02 min 05 s`, `4 min 00 s`, `12 s`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const sign = seconds < 0 ? '−' : '';
  let s = Math.round(Math.abs(seconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${sign}${h} h ${pad(m)} min ${pad(s)} s`;
  if (m > 0) return `${sign}${m} min ${pad(s)} s`;
  return `${sign}${s} s`;
}

/** Whole numbers with thousands separators: `12,345`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** CNY as the ledger keeps it (6 decimals), trailing zeros dropped down to 2: `0.25`, `0.000417`. */
export function formatCost(n: number): string {
  const fixed = n.toFixed(6).replace(/0{1,4}$/, '');
  const [whole, frac = ''] = fixed.split('.');
  return `${Number(whole).toLocaleString('en-US')}.${frac.padEnd(2, '0')}`;
}

/** `YYYY-MM-DD` of a UTC day. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export const MASK = '•••';

/**
 * A stream URL with its secrets hidden. RTMP and SRT URLs commonly carry the stream key as the last
 * path segment or in the query (`?key=…`, `?streamid=…`), and some carry user:password. Shown:
 * scheme, host, port and every path segment but the last; hidden: user info, every query value,
 * the fragment, and the last path segment unless it is the stream's own StreamId (shown next to it
 * anyway). Anything that does not parse as a URL is hidden whole but for its scheme.
 */
export function maskStreamUrl(raw: string | undefined, streamId?: string): string {
  if (!raw) return '—';
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i.exec(raw.trim());
  if (!m) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw);
    return scheme ? `${scheme[1]}:${MASK}` : MASK;
  }
  const [, scheme, authority, path, query, fragment] = m;
  const at = authority.lastIndexOf('@');
  const host = at >= 0 ? `${MASK}@${authority.slice(at + 1)}` : authority;
  const segments = path.split('/');
  const last = segments.length - 1;
  if (last >= 1 && segments[last] !== '' && segments[last] !== streamId) segments[last] = MASK;
  const maskedQuery = query
    ? '?' +
      query
        .slice(1)
        .split('&')
        .map((pair) => (pair === '' ? '' : `${pair.split('=')[0]}=${MASK}`))
        .join('&')
    : '';
  return `${scheme}://${host}${segments.join('/')}${maskedQuery}${fragment ? `#${MASK}` : ''}`;
}

/** Output resolution as ZEGO sent it; 0 or absent means "same as input". */
export function formatResolution(width: number | undefined, height: number | undefined): string {
  const w = width && width > 0 ? width : 0;
  const h = height && height > 0 ? height : 0;
  if (!w && !h) return 'same as input';
  return `${w || '?'}×${h || '?'}`;
}
