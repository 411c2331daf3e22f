"""The HTML page around the sections: one file, styles inline, nothing fetched at view time."""

from __future__ import annotations

from string import Template

from simengine.plot.style import PALETTE

CSS = """
:root { --ink: #1d232b; --muted: #5d6773; --rule: #e2e5e9; --paper: #ffffff;
  --accent: %(blue)s; --good: %(green)s; --ok: %(sky)s; --warn: %(orange)s; --bad: %(vermillion)s; }
* { box-sizing: border-box; }
html { background: #f3f4f6; }
body { margin: 0; color: var(--ink);
  font: 16px/1.55 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue",
        Arial, "Liberation Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; background: var(--paper); padding: 2.2rem 3rem 3rem; }
header h1 { font-size: 1.9rem; margin: 0 0 .2rem; line-height: 1.2; }
header .sub { color: var(--muted); margin: 0; }
nav { margin: 1.2rem 0 0; padding: .6rem 0; border-top: 1px solid var(--rule);
  border-bottom: 1px solid var(--rule); font-size: .9rem; }
nav a { color: var(--accent); text-decoration: none; margin-right: 1.1rem; white-space: nowrap; }
nav a:hover { text-decoration: underline; }
section { margin-top: 2.4rem; }
h2 { font-size: 1.4rem; margin: 0 0 .7rem; padding-bottom: .3rem;
  border-bottom: 2px solid var(--ink); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
p { margin: .5rem 0 .8rem; max-width: 52rem; }
.lead { font-size: 1.3rem; line-height: 1.45; }
.badge { display: inline-block; padding: .1rem .65rem; border-radius: 999px; font-size: .95rem;
  font-weight: 700; color: #fff; vertical-align: .15rem; margin-right: .35rem; }
.badge.good { background: var(--good); } .badge.ok { background: var(--accent); }
.badge.warn { background: var(--warn); color: var(--ink); } .badge.bad { background: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: .8rem;
  margin: 1.2rem 0; }
.card { border: 1px solid var(--rule); border-left: 4px solid var(--accent); border-radius: 6px;
  padding: .65rem .9rem; }
.card .v { font-size: 1.6rem; font-weight: 700; line-height: 1.2;
  font-variant-numeric: tabular-nums; }
.card .l { font-size: .9rem; }
.card .s { color: var(--muted); font-size: .82rem; font-variant-numeric: tabular-nums; }
.note { color: var(--muted); font-size: .88rem; }
figure { margin: 1.2rem 0; }
figure img { display: block; max-width: 100%%; height: auto; }
figcaption { color: var(--muted); font-size: .85rem; margin-top: .3rem; max-width: 52rem; }
table { border-collapse: collapse; width: 100%%; font-size: .9rem; margin: .6rem 0 1rem;
  font-variant-numeric: tabular-nums; }
th, td { padding: .38rem .6rem; border-bottom: 1px solid var(--rule); vertical-align: top; }
thead th { text-align: left; font-weight: 600; color: var(--muted); font-size: .82rem;
  border-bottom: 1.5px solid var(--ink); }
table.num td, table.num th { text-align: right; }
table.num td:first-child, table.num th:first-child { text-align: left; }
table.params td, table.params th { text-align: left; }
table.dist td:nth-child(n+3), table.dist th:nth-child(n+3) { text-align: right;
  white-space: nowrap; }
table.kv th { text-align: left; font-weight: 600; width: 16rem; color: var(--muted); }
.band { color: var(--muted); font-size: .85em; white-space: nowrap; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono",
  monospace; font-size: .82em; color: var(--muted); word-break: break-all; }
.split { display: grid; grid-template-columns: minmax(0, 2.2fr) minmax(14rem, 1fr); gap: 1.5rem;
  align-items: start; }
details { margin: 1rem 0; } summary { cursor: pointer; color: var(--accent); }
pre { background: #f6f7f9; border: 1px solid var(--rule); padding: .8rem; overflow: auto;
  max-height: 30rem; font-size: .78rem; }
footer { margin-top: 3rem; color: var(--muted); font-size: .82rem;
  border-top: 1px solid var(--rule); padding-top: .8rem; }
@media (max-width: 800px) { main { padding: 1.2rem; } .split { grid-template-columns: 1fr; } }
@media print {
  html { background: #fff; } main { max-width: none; padding: 0; } nav { display: none; }
  section { break-inside: auto; } figure, .cards, table { break-inside: avoid; }
  h2 { break-after: avoid; } details pre { max-height: none; }
}
""" % PALETTE  # noqa: UP031  (a str.format template would double every brace of the CSS)

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="simengine $version">
<link rel="icon" href="data:,">
<title>$title</title>
<style>$css</style>
</head>
<body>
<main>
<header>
<h1>$title</h1>
<p class="sub">$subtitle</p>
<nav aria-label="Sections">$nav</nav>
</header>
$body
<footer>$footer</footer>
</main>
</body>
</html>
""")
