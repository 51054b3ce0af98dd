/**
 * The console's one stylesheet, written here so the colours it uses can be checked for contrast
 * (test/unit/console-style.test.ts holds every text/background pair to WCAG AA). Data pages link it
 * under a content-hashed name (cached; served behind the session); the login page inlines it and
 * names its hash in the Content-Security-Policy.
 */
import { createHash } from 'node:crypto';

export const COLORS = {
  text: '#1f2328',
  muted: '#57606a',
  bg: '#ffffff',
  surface: '#f6f8fa',
  border: '#d0d7de',
  link: '#0550ae',
  focus: '#0969da',
  head: '#1f2328',
  headText: '#ffffff',
  error: '#a40e26',
  errorBg: '#ffebe9',
  ok: '#116329',
  okBg: '#dafbe1',
  warn: '#7d4e00',
  warnBg: '#fff8c5',
  info: '#0550ae',
  infoBg: '#ddf4ff',
  neutral: '#424a53',
  neutralBg: '#eaeef2',
  violet: '#6639ba',
  violetBg: '#fbefff',
  button: '#0550ae',
  buttonText: '#ffffff',
} as const;

/** Bar colours per tier (graphics: at least 3:1 against the page). */
export const TIER_COLORS: Record<string, string> = {
  audio: '#8250df',
  sd: '#1a7f37',
  hd: '#0969da',
  fhd: '#bc4c00',
  uhd: '#cf222e',
};

/** Badge colours by name: [text, background]. */
export const BADGES: Record<string, readonly [string, string]> = {
  running: [COLORS.ok, COLORS.okBg],
  awaiting_start: [COLORS.info, COLORS.infoBg],
  stopped: [COLORS.neutral, COLORS.neutralBg],
  aborted: [COLORS.error, COLORS.errorBg],
  orphaned: [COLORS.warn, COLORS.warnBg],
  stale: [COLORS.violet, COLORS.violetBg],
  pending: [COLORS.info, COLORS.infoBg],
  delivered: [COLORS.ok, COLORS.okBg],
  rejected: [COLORS.error, COLORS.errorBg],
  failed: [COLORS.error, COLORS.errorBg],
  done: [COLORS.ok, COLORS.okBg],
  finalized: [COLORS.ok, COLORS.okBg],
  not_billable: [COLORS.warn, COLORS.warnBg],
};

/** Pairs of foreground/background the stylesheet puts text (4.5:1) or graphics (3:1) on. */
export const CONTRAST_PAIRS: readonly { name: string; fg: string; bg: string; min: number }[] = [
  { name: 'text', fg: COLORS.text, bg: COLORS.bg, min: 4.5 },
  { name: 'text on surface', fg: COLORS.text, bg: COLORS.surface, min: 4.5 },
  { name: 'muted', fg: COLORS.muted, bg: COLORS.bg, min: 4.5 },
  { name: 'muted on surface', fg: COLORS.muted, bg: COLORS.surface, min: 4.5 },
  { name: 'link', fg: COLORS.link, bg: COLORS.bg, min: 4.5 },
  { name: 'link on surface', fg: COLORS.link, bg: COLORS.surface, min: 4.5 },
  { name: 'header', fg: COLORS.headText, bg: COLORS.head, min: 4.5 },
  { name: 'button', fg: COLORS.buttonText, bg: COLORS.button, min: 4.5 },
  { name: 'error notice', fg: COLORS.error, bg: COLORS.errorBg, min: 4.5 },
  { name: 'ok notice', fg: COLORS.ok, bg: COLORS.okBg, min: 4.5 },
  { name: 'focus ring', fg: COLORS.focus, bg: COLORS.bg, min: 3 },
  { name: 'focus ring on header', fg: '#ffffff', bg: COLORS.head, min: 3 },
  { name: 'input border', fg: COLORS.muted, bg: COLORS.bg, min: 3 },
  ...Object.entries(BADGES).map(([name, [fg, bg]]) => ({ name: `badge ${name}`, fg, bg, min: 4.5 })),
  ...Object.entries(TIER_COLORS).map(([name, fg]) => ({ name: `tier ${name}`, fg, bg: COLORS.bg, min: 3 })),
];

const c = COLORS;

export const STYLESHEET = `
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:${c.text};background:${c.bg}}
a{color:${c.link}}
a:hover{text-decoration-thickness:2px}
:focus-visible{outline:3px solid ${c.focus};outline-offset:2px}
.top :focus-visible{outline-color:#fff}
.skip{position:absolute;left:8px;top:-40px;background:${c.bg};padding:6px 10px;z-index:2}
.skip:focus{top:8px}
.wrap{max-width:1200px;margin:0 auto;padding:0 16px}
.top{background:${c.head};color:${c.headText}}
.top .wrap{display:flex;flex-wrap:wrap;align-items:center;gap:4px 20px;padding-top:8px;padding-bottom:8px}
.brand{color:${c.headText};font-weight:600;text-decoration:none;margin-right:auto}
.top nav ul{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;margin:0;padding:0}
.top nav a{color:${c.headText};text-decoration:none;padding:4px 0;display:inline-block}
.top nav a[aria-current=page]{border-bottom:3px solid #fff}
.top form{margin:0}
.top button{background:transparent;color:${c.headText};border:1px solid #fff}
main{display:block;padding:16px 0 48px}
main:focus{outline:none}
h1{font-size:1.5rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:1.75rem 0 .5rem}
p{margin:.5rem 0}
.muted{color:${c.muted}}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
h1,dd,.notice{overflow-wrap:anywhere}
.table{overflow-x:auto;border:1px solid ${c.border};border-radius:6px;margin:.5rem 0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid ${c.border};vertical-align:top}
thead th{background:${c.surface};font-weight:600;white-space:nowrap}
tbody tr:last-child td,tbody tr:last-child th{border-bottom:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot td,tfoot th{font-weight:600;background:${c.surface};border-top:2px solid ${c.border};border-bottom:0}
.nowrap{white-space:nowrap}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:.85em;font-weight:600;white-space:nowrap}
${Object.entries(BADGES)
  .map(([name, [fg, bg]]) => `.b-${name}{color:${fg};background:${bg}}`)
  .join('\n')}
form.filters{display:flex;flex-wrap:wrap;align-items:flex-end;gap:8px 12px;background:${c.surface};border:1px solid ${c.border};border-radius:6px;padding:10px 12px;margin:0 0 1rem}
.field{display:flex;flex-direction:column;gap:2px;min-width:0}
label{font-weight:600;font-size:.9em}
input,select,button{font:inherit;color:inherit}
input,select{border:1px solid ${c.muted};border-radius:6px;padding:0 8px;height:2.25rem;background:${c.bg};min-width:0;max-width:100%}
button,.button{display:inline-block;cursor:pointer;border-radius:6px;padding:0 12px;min-height:2.25rem;border:1px solid ${c.button};background:${c.button};color:${c.buttonText};font-weight:600;text-decoration:none}
button.secondary{background:${c.bg};color:${c.link}}
form.inline{display:inline;margin:0}
.notice{border-radius:6px;padding:8px 12px;margin:0 0 1rem;border:1px solid}
.notice.error{color:${c.error};background:${c.errorBg}}
.notice.ok{color:${c.ok};background:${c.okBg}}
.notice.info{color:${c.text};background:${c.surface};border-color:${c.border}}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.facts dt{color:${c.muted}}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:.5rem 0}
.card{border:1px solid ${c.border};border-radius:6px;padding:8px 12px}
.card .value{font-size:1.35rem;font-weight:600;font-variant-numeric:tabular-nums}
.chart{margin:0}
.chart svg{display:block;width:100%;height:auto;max-height:340px}
.chart .axis{font-size:11px;fill:${c.muted}}
.chart .grid{stroke:${c.border}}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;padding:0;margin:.25rem 0}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
${Object.entries(TIER_COLORS)
  .map(([tier, color]) => `.t-${tier}{background:${color};fill:${color}}`)
  .join('\n')}
.login{max-width:420px;margin:12vh auto 0;padding:0 16px}
.login form{display:flex;flex-direction:column;gap:10px;border:1px solid ${c.border};border-radius:6px;padding:16px;background:${c.surface}}
.actions{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:.5rem 0}
footer{color:${c.muted};font-size:.85em;border-top:1px solid ${c.border};padding:12px 0 24px}
@media (max-width:600px){body{font-size:14px}th,td{padding:5px 7px}h1{font-size:1.3rem}dl.facts{grid-template-columns:1fr}dl.facts dt{margin-top:4px}}
`
  .trim()
  .replace(/\n/g, '');

export const STYLESHEET_HASH = createHash('sha256').update(STYLESHEET).digest('base64');
/** The stylesheet's URL: its name changes with its content, so it may be cached for good. */
export const STYLESHEET_PATH = `/console/assets/console-${createHash('sha256')
  .update(STYLESHEET)
  .digest('hex')
  .slice(0, 12)}.css`;
