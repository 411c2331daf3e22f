"""The explorer's page (Panel): levers on the left; on the right the chance of reaching the goal,
the change against the scenario as loaded, the fan charts and the distribution of bookings.

Each lever change is submitted to a :class:`~simengine.explore.runner.Runner`; the page marks
the results as out of date at once and shows a result only while its generation is the newest.
Figures are Bokeh plots whose data sources are replaced in place: an update sends a few hundred
numbers to the browser, not an image.
"""

from __future__ import annotations

import html
import math
from functools import partial

import numpy as np
import panel as pn
from bokeh.models import (
    ColumnDataSource,
    CustomJSTickFormatter,
    DatetimeTickFormatter,
    Label,
    Span,
)
from bokeh.plotting import figure

from simengine.errors import SimEngineError
from simengine.explore.levers import GROUPS, LeverSpec
from simengine.explore.runner import Failure, Runner
from simengine.explore.session import Explorer, Outcome
from simengine.fmt import SYMBOLS, money
from simengine.plot.style import BAND, GOAL, PALETTE

GREY = PALETTE["grey"]
HEIGHT = 290
OPEN_GROUPS = ("Demand", "Capacity", "Conversion", "Added")

_CSS = """
:host { width: 100%; }
.status { font: 14px/1.4 system-ui, sans-serif; padding: 6px 10px; border-radius: 6px; }
.status.computing { background: #FFF4D6; color: #6B4E00; }
.status.preliminary { background: #E8F1FA; color: #0B3C5D; }
.status.final { background: #E7F5EE; color: #0E5132; }
.status.error { background: #FDE8E4; color: #7A1F0A; white-space: pre-wrap; }
.tiles { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px;
         font-family: system-ui, sans-serif; transition: opacity .15s; }
.tiles.stale { opacity: .35; }
.tile { border: 1px solid #E3E3E3; border-radius: 8px; padding: 10px 14px; background: #fff; }
.tile .k { font-size: 13px; color: #555; }
.tile .v { font-size: 30px; font-weight: 700; color: #111; margin: 2px 0; }
.tile .v.up { color: #007A55; }
.tile .v.down { color: #B34700; }
.tile .s { font-size: 12.5px; color: #555; }
.changes { font: 13.5px/1.5 system-ui, sans-serif; color: #333; }
.changes b { color: #111; }
.plan { font: 13px/1.4 system-ui, sans-serif; color: #222; }
.plan table { border-collapse: collapse; width: 100%; }
.plan th, .plan td { padding: 2px 4px; border-bottom: 1px solid #EEE; text-align: right; }
.plan th:first-child, .plan td:first-child { text-align: left; }
.plan tr.sum td { font-weight: 600; }
.plan .note { font-size: 12px; color: #555; margin-top: 4px; }
"""

_MONEY_JS = """
const s = tick < 0 ? "-" : "";
const x = Math.abs(tick);
let t;
if (x >= 1e9) t = (x / 1e9).toFixed(1) + "B";
else if (x >= 1e6) t = (x / 1e6).toFixed(1) + "M";
else if (x >= 1e3) t = (x / 1e3).toFixed(0) + "k";
else t = x.toFixed(0);
return s + SYM + t + SUF;
"""


def _labelled(**kw):
    """Widget keywords in the spelling of the installed Panel: ``label`` and a button's
    ``color`` since Panel 1.9, ``name`` and ``button_type`` before."""
    if "label" not in pn.widgets.TextInput.param:
        kw["name"] = kw.pop("label")
    if "color" in kw and "color" not in pn.widgets.Button.param:
        kw["button_type"] = kw.pop("color")
    return kw


def _money_formatter(currency: str) -> CustomJSTickFormatter:
    sym = SYMBOLS.get(currency, "")
    suf = "" if sym else f" {currency}"
    return CustomJSTickFormatter(code=_MONEY_JS.replace("SYM", repr(sym))
                                 .replace("SUF", repr(suf)))


def _fig(title: str, currency: str, x_dates: bool = True, **kw):
    p = figure(title=title, height=HEIGHT, sizing_mode="stretch_width", toolbar_location=None,
               tools="", x_axis_type="datetime" if x_dates else "linear", **kw)
    p.title.text_font_size = "13px"
    p.yaxis.formatter = _money_formatter(currency)
    if x_dates:
        p.xaxis.formatter = DatetimeTickFormatter(months="%b", years="%Y", days="%d %b")
    else:
        p.xaxis.formatter = _money_formatter(currency)
    p.grid.grid_line_color = "#E6E6E6"
    p.outline_line_color = None
    p.min_border_left = 60
    return p


def _legend(p, where: str = "top_left") -> None:
    p.legend.location = where
    p.legend.label_text_font_size = "11px"
    p.legend.background_fill_alpha = 0.7
    p.legend.border_line_color = None
    p.legend.spacing = 0
    p.legend.padding = 4


def _bands(p, src: ColumnDataSource) -> None:
    p.varea("x", "p5", "p95", source=src, color=BAND, alpha=0.18, legend_label="P5–P95")
    p.varea("x", "p25", "p75", source=src, color=BAND, alpha=0.35, legend_label="P25–P75")
    p.line("x", "p50", source=src, color=BAND, line_width=2, legend_label="median")
    p.line("x", "ref", source=src, color=GREY, line_width=1.6, line_dash="dashed",
           legend_label="median as loaded")


def _hist_edges(x: np.ndarray, y: np.ndarray, goal: float, bins: int = 36) -> np.ndarray:
    """Shared bin edges of two samples; the goal, when there is one, is an edge."""
    both = np.concatenate([x, y])
    lo, hi = float(both.min()), float(both.max())
    if not hi > lo:
        return np.array([lo - 0.5, hi + 0.5])
    width = (hi - lo) / bins
    anchor = goal if math.isfinite(goal) else lo
    k0 = math.floor((lo - anchor) / width)
    k1 = math.ceil((hi - anchor) / width)
    return anchor + width * np.arange(k0, k1 + 1)


class Page:
    """One browser tab's explorer: its lever values, its runner, its widgets and figures."""

    def __init__(self, explorer: Explorer):
        self.ex = explorer
        self.doc = pn.state.curdoc
        self.cur = explorer.scenario.currency
        self.values = explorer.loaded_values()
        self.sliders: dict[str, pn.widgets.EditableFloatSlider] = {}
        self.cards: dict[str, pn.Card] = {}
        self.last: Outcome | None = None
        self._build()
        self.runner = Runner(explorer, self._from_worker)
        if pn.state.curdoc is not None:
            pn.state.on_session_destroyed(lambda _ctx: self.runner.close(timeout=0))
        self._submit()

    # -- widgets -------------------------------------------------------------------------------
    def _control(self, s: LeverSpec):
        """The slider of a lever; an uncertain one says (in a tooltip) that its centre moves."""
        w = self._slider(s)
        if not s.uncertain:
            return w
        return pn.Row(w, pn.widgets.TooltipIcon(value=s.note, margin=(28, 0, 0, 0)),
                      sizing_mode="stretch_width")

    def _slider(self, s: LeverSpec) -> pn.widgets.EditableFloatSlider:
        fmt = {"money": "$0,0" if self.cur == "USD" else "0,0", "probability": "0.0%",
               "count": "0,0", "multiplier": "0.00"}.get(s.kind, "0,0.[000]")
        w = pn.widgets.EditableFloatSlider(**_labelled(
            label=f"{s.label} (centre)" if s.uncertain else s.label, start=s.start, end=s.end,
            step=s.step, value=s.value, fixed_start=s.start, fixed_end=s.end, format=fmt,
            sizing_mode="stretch_width", css_classes=["lever"]))
        w.param.watch(partial(self._moved, s.path), "value_throttled")
        self.sliders[s.path] = w
        return w

    def _build(self) -> None:
        ex = self.ex
        for g in GROUPS:
            specs = [s for s in ex.levers if s.group == g]
            card = pn.Card(*[self._control(s) for s in specs], title=g,
                           collapsed=g not in OPEN_GROUPS, sizing_mode="stretch_width",
                           visible=bool(specs))
            self.cards[g] = card
        self.search = pn.widgets.AutocompleteInput(**_labelled(
            label="Add any parameter as a lever", options=ex.searchable(),
            placeholder="type part of a path, e.g. patience", case_sensitive=False,
            search_strategy="includes", min_characters=2, restrict=False,
            sizing_mode="stretch_width"))
        self.search.param.watch(self._add, "value")
        self.search_msg = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self.reset = pn.widgets.Button(**_labelled(label="Reset to the scenario as loaded",
                                       color="light", sizing_mode="stretch_width"))
        self.reset.on_click(self._reset)
        stem = ex.path.stem
        self.save_path = pn.widgets.TextInput(**_labelled(
            label="Save as scenario (YAML that extends the loaded file)",
            value=f"{stem}-whatif.yaml", sizing_mode="stretch_width"))
        self.save_btn = pn.widgets.Button(**_labelled(
            label="Save as scenario", color="primary", sizing_mode="stretch_width"))
        self.save_btn.on_click(self._save)
        self.export_path = pn.widgets.TextInput(**_labelled(
            label="Export the report (HTML)", value=f"{stem}-whatif.html",
            sizing_mode="stretch_width"))
        self.export_btn = pn.widgets.Button(**_labelled(
            label="Export report", color="default", sizing_mode="stretch_width"))
        self.export_btn.on_click(self._export)
        self.file_msg = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self.plan_card = None
        if ex.plan is not None:
            self.plan_pane = pn.pane.HTML(self._plan_html(), stylesheets=[_CSS],
                                          sizing_mode="stretch_width")
            self.apply_btn = pn.widgets.Button(**_labelled(
                label="Apply the plan", color="primary", sizing_mode="stretch_width"))
            self.apply_btn.on_click(self._apply_plan)
            self.plan_card = pn.Card(self.plan_pane, self.apply_btn,
                                     title=f"Plan: {ex.plan.path.name}", collapsed=False,
                                     sizing_mode="stretch_width")

        self.status = pn.pane.HTML("", stylesheets=[_CSS], sizing_mode="stretch_width")
        self.tiles = pn.pane.HTML("", stylesheets=[_CSS], sizing_mode="stretch_width")
        self.changes = pn.pane.HTML("", stylesheets=[_CSS], sizing_mode="stretch_width")
        self._figures()
        self.results = pn.Column(
            self.tiles, self.changes,
            pn.Row(pn.pane.Bokeh(self.fig_cum, sizing_mode="stretch_width"),
                   pn.pane.Bokeh(self.fig_hist, sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.fig_mon, sizing_mode="stretch_width"),
            sizing_mode="stretch_width")

    def _figures(self) -> None:
        cur = self.cur
        empty = {k: [] for k in ("x", "p5", "p25", "p50", "p75", "p95", "ref")}
        self.src_cum = ColumnDataSource(dict(empty, goal=[]))
        self.src_mon = ColumnDataSource(dict(empty))
        self.src_hist = ColumnDataSource({"left": [], "right": [], "hit": [], "miss": []})
        self.src_ref = ColumnDataSource({"x": [], "y": []})

        p = _fig("Cumulative bookings against the goal", cur)
        _bands(p, self.src_cum)
        if math.isfinite(self.ex.goal):
            p.line("x", "goal", source=self.src_cum, color=GOAL, line_width=1.8,
                   line_dash="dashed", legend_label="goal trajectory")
        _legend(p)
        self.fig_cum = p

        h = _fig("Bookings over the horizon, draw by draw", cur, x_dates=False)
        h.quad(left="left", right="right", top="miss", bottom=0, source=self.src_hist,
               fill_color=GREY, line_color="white", fill_alpha=0.6,
               legend_label="misses the goal" if math.isfinite(self.ex.goal) else "what-if")
        if math.isfinite(self.ex.goal):
            h.quad(left="left", right="right", top="hit", bottom=0, source=self.src_hist,
                   fill_color=BAND, line_color="white", fill_alpha=0.85,
                   legend_label="reaches the goal")
        h.step("x", "y", source=self.src_ref, mode="after", color=PALETTE["black"],
               line_width=1.3, line_dash="dashed", legend_label="as loaded")
        h.yaxis.formatter = CustomJSTickFormatter(code="return tick.toFixed(0);")
        h.yaxis.axis_label = "draws"
        if math.isfinite(self.ex.goal):
            h.add_layout(Span(location=self.ex.goal, dimension="height", line_color=GOAL,
                              line_dash="dashed", line_width=2))
            h.add_layout(Label(x=self.ex.goal, y=HEIGHT - 95, y_units="screen", x_offset=4,
                               text=f"goal {money(self.ex.goal, cur)}", text_color=GOAL,
                               text_font_size="12px"))
        _legend(h, "top_right")
        self.fig_hist = h

        m = _fig("Bookings per period", cur)
        _bands(m, self.src_mon)
        _legend(m)
        self.fig_mon = m

    def layout(self) -> pn.template.BootstrapTemplate:
        ex = self.ex
        sidebar = [
            pn.pane.Markdown(
                f"**{html.escape(ex.scenario.name)}** — `{html.escape(str(ex.path))}`  \n"
                f"Move a lever: the forecast re-runs {ex.draws:,} draws on the same random "
                f"numbers (seed {ex.seed}), so the change shown is the lever's effect.",
                sizing_mode="stretch_width"),
            *([self.plan_card] if self.plan_card is not None else []),
            self.search, self.search_msg,
            *self.cards.values(),
            self.reset,
            pn.layout.Divider(),
            self.save_path, self.save_btn, self.export_path, self.export_btn, self.file_msg,
        ]
        return pn.template.BootstrapTemplate(
            title=f"simengine explore: {ex.scenario.name}", sidebar=sidebar,
            main=[self.status, self.results], sidebar_width=380,
            header_background=PALETTE["blue"])

    # -- events (the page's thread) ------------------------------------------------------------
    def _moved(self, path: str, event) -> None:
        if event.new is None:
            return
        self.values[path] = float(event.new)
        self._submit()

    def _submit(self) -> int:
        gen = self.runner.submit(self.values)
        self._stale(gen)
        return gen

    def _reset(self, _event=None) -> None:
        with pn.io.hold():
            for path, w in self.sliders.items():
                v = self.ex.specs[path].value
                self.values[path] = v
                w.value = v
        self._submit()

    def _plan_html(self) -> str:
        """The plan next to the scenario as loaded: each lever it moves, its cost and P(goal)
        on the explorer's draws (when the plan has been simulated), what no slider sets."""
        ex, plan, cur = self.ex, self.ex.plan, self.cur
        rows = "".join(f"<tr><td>{html.escape(ex.specs[p].label)}</td>"
                       f"<td>{ex.format(p, a)}</td><td>{ex.format(p, b)}</td></tr>"
                       for p, a, b in plan.levers)
        o = ex._plan_outcome
        if o is not None:
            rows += (f'<tr class="sum"><td>cost (campaigns + reps)</td>'
                     f"<td>{money(o.ref_cost, cur)}</td><td>{money(o.cost, cur)}</td></tr>")
            if math.isfinite(o.goal):
                se_ref = math.sqrt(o.ref_p_goal * (1 - o.ref_p_goal) / max(o.draws, 1))
                rows += (f'<tr class="sum"><td>P(goal) ± s.e.</td>'
                         f"<td>{100 * o.ref_p_goal:.1f} ± {100 * se_ref:.1f} %</td>"
                         f'<td id="plan-p-goal">{100 * o.p_goal:.1f} ± '
                         f"{100 * o.p_goal_se:.1f} %</td></tr>")
        notes = []
        if o is not None:
            notes.append(f"Simulated here on {o.draws:,} draws (seed {ex.seed}), the same as "
                         "the scenario as loaded.")
        if plan.other:
            notes.append("Not a slider, so <i>Apply</i> leaves it as loaded: "
                         + "; ".join(html.escape(x) for x in plan.other[:6])
                         + ("…" if len(plan.other) > 6 else "") + ".")
        if plan.description:
            notes.append(f"The file says: {html.escape(plan.description)}")
        note = "".join(f'<div class="note">{n}</div>' for n in notes)
        return (f'<div class="plan" id="plan"><table><tr><th></th><th>as loaded</th>'
                f"<th>plan</th></tr>{rows}</table>{note}</div>")

    def _apply_plan(self, _event=None) -> None:
        """Move the plan's levers to its values (the others stay where they are)."""
        with pn.io.hold():
            for path, v in self.ex.plan.values.items():
                self.values[path] = v
                if path in self.sliders:
                    self.sliders[path].value = v
        self._submit()

    def _add(self, event) -> None:
        path = (event.new or "").strip()
        if not path:
            return
        if path in self.sliders:
            self.search_msg.object = f"`{path}` is already a lever."
            return
        try:
            s = self.ex.add_lever(path)
        except SimEngineError as exc:
            self.search_msg.object = html.escape(str(exc))
            return
        self.values[path] = s.value
        card = self.cards["Added"]
        card.append(self._control(s))
        card.visible = True
        card.collapsed = False
        self.search_msg.object = f"Added `{path}` under *Added*."

    def _save(self, _event=None) -> None:
        try:
            path = self.ex.save(self.values, self.save_path.value)
        except SimEngineError as exc:
            self.file_msg.object = f"**Not saved:** {html.escape(str(exc))}"
            return
        self.file_msg.object = (f"Saved `{path}`: run it with `simengine run {path}`.")

    async def _export(self, _event=None) -> None:
        import asyncio

        self.export_btn.disabled = True
        self.file_msg.object = "Exporting the report (simulating both scenarios)…"
        try:
            path = await asyncio.to_thread(self.ex.export, dict(self.values),
                                           self.export_path.value)
        except SimEngineError as exc:
            self.file_msg.object = f"**Not exported:** {html.escape(str(exc))}"
        else:
            self.file_msg.object = f"Wrote the report `{path}`."
        finally:
            self.export_btn.disabled = False

    # -- results -------------------------------------------------------------------------------
    def _from_worker(self, gen: int, result: Outcome | Failure) -> None:
        """Called by the runner's thread: hand over to the page's thread."""
        if self.doc is None or self.doc.session_context is None:
            self._show(gen, result)
            return
        try:
            self.doc.add_next_tick_callback(partial(self._show, gen, result))
        except Exception:  # noqa: BLE001 - the tab is gone; nothing to show
            self.runner.close(timeout=0)

    def _stale(self, gen: int) -> None:
        word = "Simulating the scenario as loaded…" if self.last is None else \
            "Computing… the figures below are for the previous setting."
        self.status.object = (f'<div class="status computing" id="status" data-state="computing"'
                              f' data-generation="{gen}">{word}</div>')
        self.results.styles = {"opacity": "0.35"} if self.last is not None else {}

    def _show(self, gen: int, result: Outcome | Failure) -> None:
        if not self.runner.is_current(gen):
            return  # an older setting's result: never shown
        if isinstance(result, Failure):
            head = "Internal error (please report it):" if result.internal else \
                "This setting is not a valid scenario:"
            self.status.object = (f'<div class="status error" id="status" data-state="error" '
                                  f'data-generation="{gen}">{head}\n'
                                  f'{html.escape(result.message)}</div>')
            return
        o = result
        self.last = o
        state = "final" if o.final else "preliminary"
        if o.final:
            word = (f"Up to date: {o.draws:,} draws in {o.seconds:.1f} s"
                    if o.moved else f"The scenario as loaded: {o.draws:,} draws")
        else:
            word = f"First look: {o.draws:,} of {o.target:,} draws, refining…"
        if o.failed:
            word += f" ({o.failed} draws failed and are left out)"
        self.status.object = (f'<div class="status {state}" id="status" data-state="{state}" '
                              f'data-generation="{gen}">{word}</div>')
        self.tiles.object = self._tiles(o, gen, state)
        self.changes.object = self._changes(o)
        self._update_figures(o)
        self.results.styles = {"opacity": "1"}

    def _tiles(self, o: Outcome, gen: int, state: str) -> str:
        cur = o.currency
        n = f"{o.draws:,} draws"
        if math.isfinite(o.goal):
            t1 = (f"Chance of reaching the {money(o.goal, cur)} goal",
                  f'<span id="p-goal">{100 * o.p_goal:.1f}&nbsp;%</span>',
                  f"± {100 * o.p_goal_se:.1f} points (s.e.) · {n}", "")
            if o.moved:
                cls = "up" if o.d_p_goal > 0 else "down" if o.d_p_goal < 0 else ""
                t2 = ("Change against the scenario as loaded",
                      f'<span id="d-p-goal">{100 * o.d_p_goal:+.1f} points</span>',
                      f"± {100 * o.d_p_goal_se:.1f} (paired s.e.) · loaded "
                      f"{100 * o.ref_p_goal:.1f}&nbsp;%", cls)
            else:
                t2 = ("Change against the scenario as loaded",
                      '<span id="d-p-goal">none</span>', "move a lever to see its effect", "")
        else:
            t1 = ("Chance of reaching the goal", '<span id="p-goal">no goal</span>',
                  "the scenario sets no goal.revenue", "")
            t2 = ("Change against the scenario as loaded", '<span id="d-p-goal">–</span>', "",
                  "")
        t3 = ("Bookings over the horizon (median)", money(o.quantile(0.5), cur),
              f"P5–P95 {money(o.quantile(0.05), cur)} – {money(o.quantile(0.95), cur)}", "")
        if o.moved:
            sign = "+" if o.d_mean >= 0 else ""
            cls = "up" if o.d_mean > 0 else "down" if o.d_mean < 0 else ""
            spend = "" if not o.d_spend else \
                f" · campaign spend {'+' if o.d_spend > 0 else ''}{money(o.d_spend, cur)}"
            t4 = ("Change in bookings, draw by draw (mean)", f"{sign}{money(o.d_mean, cur)}",
                  f"± {money(o.d_mean_se, cur)} (s.e.) · 90&nbsp;% of draws "
                  f"{_signed(o.d_p5, cur)} to {_signed(o.d_p95, cur)}{spend}", cls)
        else:
            t4 = ("Change in bookings, draw by draw (mean)", "–", "no lever moved", "")
        tiles = "".join(f'<div class="tile"><div class="k">{k}</div><div class="v {c}">{v}'
                        f'</div><div class="s">{s}</div></div>' for k, v, s, c in
                        (t1, t2, t3, t4))
        return (f'<div class="tiles" id="tiles" data-state="{state}" data-generation="{gen}">'
                f"{tiles}</div>")

    def _changes(self, o: Outcome) -> str:
        if not o.moved:
            return '<div class="changes">No lever moved: this is the scenario as loaded.</div>'
        items = "; ".join(f"<b>{html.escape(self.ex.specs[p].label)}</b> "
                          f"{self.ex.format(p, a)} → {self.ex.format(p, b)}"
                          for p, a, b in o.changes)
        return f'<div class="changes">Levers moved: {items}.</div>'

    def _update_figures(self, o: Outcome) -> None:
        q = o.cumulative
        x_cum = np.concatenate([o.period_start[:1], o.period_end])
        self.src_cum.data = {"x": x_cum, "p5": q[0], "p25": q[1], "p50": q[2], "p75": q[3],
                             "p95": q[4], "ref": o.ref_cumulative, "goal": o.goal_path}
        m = o.monthly
        mids = o.period_start + (o.period_end - o.period_start) / 2
        self.src_mon.data = {"x": mids, "p5": m[0], "p25": m[1], "p50": m[2], "p75": m[3],
                             "p95": m[4], "ref": o.ref_monthly}
        if len(o.bookings):
            edges = _hist_edges(o.bookings, o.reference, o.goal)
            top, _ = np.histogram(o.bookings, edges)
            ref, _ = np.histogram(o.reference, edges)
            hit = edges[:-1] >= o.goal if math.isfinite(o.goal) else np.zeros(len(top), bool)
            self.src_hist.data = {"left": edges[:-1], "right": edges[1:],
                                  "hit": np.where(hit, top, 0), "miss": np.where(hit, 0, top)}
            self.src_ref.data = {"x": edges, "y": np.append(ref, ref[-1])}


def _signed(x: float, cur: str) -> str:
    return f"{'+' if x > 0 else ''}{money(x, cur)}"


def page(explorer: Explorer):
    """The page of one browser tab (what the Panel server calls per session)."""
    return Page(explorer).layout()

