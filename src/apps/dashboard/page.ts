/**
 * The dashboard's HTML shell and stylesheet. The app itself is `web/app.ts`, compiled by tsc
 * to plain ES modules; Preact, htm and uPlot load from node_modules through an import map,
 * so there is no bundler and nothing to build but the TypeScript.
 */

const IMPORT_MAP = {
  imports: {
    preact: '/_mcml/vendor/preact.js',
    'preact/hooks': '/_mcml/vendor/preact-hooks.js',
    htm: '/_mcml/vendor/htm.js',
    'htm/preact': '/_mcml/vendor/htm-preact.js',
    uplot: '/_mcml/vendor/uplot.js',
  },
};

/** The page served at `/`. */
export function renderPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mcml</title>
<link rel="icon" href="data:image/svg+xml,${encodeURIComponent(FAVICON)}">
<link rel="stylesheet" href="/_mcml/vendor/uplot.css">
<style>${CSS}</style>
<script type="importmap">${JSON.stringify(IMPORT_MAP)}</script>
</head>
<body>
<div id="app"><div class="boot">loading…</div></div>
<script type="module" src="/_mcml/ui/app.js"></script>
</body>
</html>
`;
}

const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#7c5cff"/><path d="M7 22V10l5 7 4-7 4 7 5-7v12" stroke="#fff" stroke-width="2.6" fill="none" stroke-linejoin="round"/></svg>';

const CSS = `
:root {
  --bg: #0a0d14; --panel: #111622; --panel2: #161c2b; --line: #222a3b; --text: #e6e9f0;
  --muted: #8a93a6; --faint: #5c6578; --accent: #7c5cff;
  --ok: #22c55e; --warn: #f5a524; --bad: #ef4444; --info: #38bdf8; --off: #64748b;
  --aws: #ff9900; --gcp: #4c8df6; --azure: #1fa3f0; --local: #a78bfa;
  font-family: ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 14px; color: var(--text); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; background: radial-gradient(1200px 600px at 10% -10%, #1a1440 0%, transparent 60%), var(--bg); min-height: 100vh; }
.boot { padding: 40px; color: var(--muted); }
.wrap { max-width: 1280px; margin: 0 auto; padding: 20px 24px 40px; }
header { display: flex; align-items: center; gap: 16px; flex-wrap: wrap; margin-bottom: 18px; }
.brand { display: flex; align-items: center; gap: 10px; font-weight: 700; font-size: 18px; letter-spacing: .2px; }
.brand .logo { width: 28px; height: 28px; border-radius: 7px; background: var(--accent); display: grid; place-items: center; }
.brand small { color: var(--muted); font-weight: 500; font-size: 13px; }
.spacer { flex: 1; }
.kpis { display: flex; gap: 10px; flex-wrap: wrap; }
.kpi { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 8px 12px; min-width: 110px; }
.kpi .k { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .08em; }
.kpi .v { font-size: 17px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.kpi .v.active { color: var(--ok); }
.kpi .v.down { color: var(--bad); }
button { font: inherit; border-radius: 8px; border: 1px solid var(--line); background: var(--panel2); color: var(--text); padding: 7px 12px; cursor: pointer; transition: background .15s, border-color .15s; }
button:hover:not(:disabled) { border-color: #3a4560; background: #1c2335; }
button:disabled { opacity: .45; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; font-weight: 600; }
button.primary:hover:not(:disabled) { background: #6a4ff0; }
button.danger { color: #fca5a5; border-color: #4a2330; background: #23141b; }
button.danger:hover:not(:disabled) { background: #311821; border-color: #6b2a3b; }
button.good { color: #86efac; border-color: #1f4a33; background: #12231a; }
button.good:hover:not(:disabled) { background: #163020; border-color: #2a6b48; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 14px; }
.card { background: linear-gradient(180deg, var(--panel) 0%, #0f1420 100%); border: 1px solid var(--line); border-radius: 14px; padding: 16px; position: relative; }
.card.is-active { border-color: color-mix(in srgb, var(--ok) 55%, var(--line)); box-shadow: 0 0 0 1px color-mix(in srgb, var(--ok) 35%, transparent), 0 8px 30px -12px color-mix(in srgb, var(--ok) 45%, transparent); }
.card.is-down { border-color: color-mix(in srgb, var(--bad) 45%, var(--line)); }
.card h2 { margin: 0; font-size: 16px; font-weight: 650; display: flex; align-items: center; gap: 8px; }
.card .sub { color: var(--muted); font-size: 12.5px; margin-top: 4px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.cloud { font-size: 11px; font-weight: 700; padding: 2px 7px; border-radius: 6px; letter-spacing: .04em; text-transform: uppercase; }
.cloud.aws { color: var(--aws); background: color-mix(in srgb, var(--aws) 14%, transparent); }
.cloud.gcp { color: var(--gcp); background: color-mix(in srgb, var(--gcp) 14%, transparent); }
.cloud.azure { color: var(--azure); background: color-mix(in srgb, var(--azure) 14%, transparent); }
.cloud.local { color: var(--local); background: color-mix(in srgb, var(--local) 14%, transparent); }
.top { display: flex; align-items: flex-start; gap: 10px; }
.badges { margin-left: auto; display: flex; gap: 6px; align-items: center; }
.pill { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; font-weight: 600; padding: 3px 9px; border-radius: 999px; border: 1px solid var(--line); white-space: nowrap; }
.pill .dot { width: 7px; height: 7px; border-radius: 50%; background: currentColor; }
.pill.healthy { color: var(--ok); border-color: color-mix(in srgb, var(--ok) 35%, transparent); background: color-mix(in srgb, var(--ok) 10%, transparent); }
.pill.suspect { color: var(--warn); border-color: color-mix(in srgb, var(--warn) 35%, transparent); background: color-mix(in srgb, var(--warn) 10%, transparent); }
.pill.unhealthy, .pill.failed { color: var(--bad); border-color: color-mix(in srgb, var(--bad) 35%, transparent); background: color-mix(in srgb, var(--bad) 10%, transparent); }
.pill.recovering { color: var(--info); border-color: color-mix(in srgb, var(--info) 35%, transparent); background: color-mix(in srgb, var(--info) 10%, transparent); }
.pill.unknown { color: var(--off); }
.pill.active { color: #0a0d14; background: var(--ok); border-color: var(--ok); }
.pill.tier { color: var(--muted); font-weight: 500; }
.pill.healthy .dot, .pill.active .dot { animation: pulse 2s infinite; }
@keyframes pulse { 0% { box-shadow: 0 0 0 0 currentColor; } 70% { box-shadow: 0 0 0 5px transparent; } 100% { box-shadow: 0 0 0 0 transparent; } }
.stats { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px 12px; margin: 16px 0 14px; }
.stat .k { color: var(--faint); font-size: 11px; text-transform: uppercase; letter-spacing: .07em; }
.stat .v { font-size: 18px; font-weight: 650; font-variant-numeric: tabular-nums; margin-top: 2px; }
.stat .v small { font-size: 12px; color: var(--muted); font-weight: 500; margin-left: 2px; }
.replicas { display: flex; gap: 4px; align-items: center; margin-top: 6px; }
.rep { width: 10px; height: 10px; border-radius: 3px; background: var(--ok); }
.rep.no { background: #2a3245; }
.foot { display: flex; gap: 8px; align-items: center; border-top: 1px solid var(--line); padding-top: 12px; }
.foot .meta { color: var(--faint); font-size: 12px; margin-right: auto; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.row2 { display: grid; grid-template-columns: 1.35fr 1fr; gap: 14px; margin-top: 14px; }
@media (max-width: 980px) { .row2 { grid-template-columns: 1fr; } }
.panel-title { display: flex; align-items: center; gap: 10px; margin: 0 0 12px; font-size: 13px; font-weight: 650; color: var(--muted); text-transform: uppercase; letter-spacing: .08em; }
.panel-title .spacer { flex: 1; }
.chart { min-height: 230px; }
.legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 12.5px; color: var(--muted); margin-top: 6px; }
.legend i { display: inline-block; width: 10px; height: 3px; border-radius: 2px; margin-right: 6px; vertical-align: middle; }
.events { list-style: none; margin: 0; padding: 0; max-height: 300px; overflow: auto; }
.events li { display: grid; grid-template-columns: 64px 12px 1fr; gap: 8px; align-items: baseline; padding: 6px 0; border-bottom: 1px dashed #1b2233; font-size: 13px; }
.events li:last-child { border-bottom: 0; }
.events time { color: var(--faint); font-variant-numeric: tabular-nums; font-size: 12px; }
.events .mark { width: 8px; height: 8px; border-radius: 50%; background: var(--off); align-self: center; }
.events .ok .mark { background: var(--ok); } .events .warn .mark { background: var(--warn); }
.events .error .mark { background: var(--bad); } .events .info .mark { background: var(--info); }
.events .kind { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .06em; margin-right: 6px; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; color: var(--faint); font-weight: 600; font-size: 11px; text-transform: uppercase; letter-spacing: .07em; padding: 0 8px 8px 0; }
td { padding: 6px 8px 6px 0; border-top: 1px solid #1b2233; font-variant-numeric: tabular-nums; }
.state-done { color: var(--ok); } .state-failed { color: var(--bad); } .state-syncing, .state-pending { color: var(--info); } .state-skipped { color: var(--muted); }
.toast { position: fixed; right: 20px; bottom: 20px; background: var(--panel2); border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; box-shadow: 0 10px 30px rgba(0,0,0,.4); font-size: 13px; max-width: 420px; }
.toast.error { border-color: #6b2a3b; color: #fecaca; }
.muted { color: var(--muted); }
.conn { font-size: 12px; color: var(--muted); display: inline-flex; gap: 6px; align-items: center; }
.conn .dot { width: 7px; height: 7px; border-radius: 50%; background: var(--ok); }
.conn.lost .dot { background: var(--bad); }
.u-legend { display: none; }
.facts { display: grid; grid-template-columns: 90px 1fr; gap: 8px 12px; margin: 0; font-size: 13px; }
.facts dt { color: var(--faint); font-size: 11px; text-transform: uppercase; letter-spacing: .07em; padding-top: 2px; }
.facts dd { margin: 0; color: var(--text); overflow-wrap: anywhere; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
pre.try { margin: 14px 0 0; padding: 10px 12px; background: #0b0f18; border: 1px solid var(--line); border-radius: 8px; color: #c4b5fd; white-space: pre-wrap; overflow-wrap: anywhere; }
`;
