"""The what-if explorer without a browser: levers found from a scenario, outcomes on common random
numbers, newer settings superseding older runs, save-as-scenario round trip, the token off
loopback, the page's logic and the CLI's errors."""

from __future__ import annotations

import re
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

import simengine as se
from simengine.cli import main
from simengine.errors import ScenarioError, SimEngineError
from simengine.explore.runner import Failure, Runner
from simengine.explore.session import DEFAULT_DRAWS, Explorer, Superseded, overlay
from simengine.scenario import canonical_json, to_raw

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
BUDGET = "campaigns.search.volume.budget"

# A small funnel without pools (the fast path): a few thousand prospects a draw.
SMALL = """\
name: small
horizon: {start: 2027-01-01, days: 365, period: month}
goal: {revenue: 1400000}
deal_value: {dist: lognormal, mean: 20000, cv: 0.5}
stages:
  - name: lead
    dwell: {dist: exponential, mean: 10}
    next: {opportunity: {dist: beta, mean: 0.3, sd: 0.05}}
  - name: opportunity
    dwell: {dist: lognormal, mean: 30, cv: 0.5}
    next: {won: 0.25}
    no_decision: 0.1
campaigns:
  - name: search
    channel: paid_search
    enters: lead
    schedule: {start: 2027-01-01, end: 2027-10-31}
    volume: {budget: 50000, cost_per_lead: 50}
  - name: events
    channel: event
    enters: lead
    schedule: {start: 2027-02-01, end: 2027-09-30}
    volume: {leads: {dist: triangular, low: 400, mode: 600, high: 800}}
friction:
  - name: slow-h2
    stages: [opportunity]
    start: 2027-07-01
    end: 2027-12-31
    dwell: 1.2
  - name: freeze
    probability: 0.3
    stages: [opportunity]
    start: 2027-05-01
    end: 2027-08-31
    lost: 0.2
"""


@pytest.fixture(scope="module")
def small_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("explore") / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def ex(small_path) -> Explorer:
    return Explorer(small_path, draws=60, seed=3, first_look=20)


@pytest.fixture(scope="module")
def baseline() -> Explorer:
    return Explorer(BASELINE, draws=24, seed=1, first_look=0)


def final(ex: Explorer, values: dict[str, float]):
    return list(ex.evaluate(values))[-1]


# --- levers -----------------------------------------------------------------------------------
def test_default_draws_give_two_point_standard_error():
    assert 0.5 * 0.5 / DEFAULT_DRAWS <= 0.02**2


def test_levers_found_in_the_baseline(baseline):
    by_path = {s.path: s for s in baseline.levers}
    for path, group in [
        ("campaigns.webinar-series.volume.budget", "Demand"),
        ("campaigns.trade-show.volume.leads", "Demand"),
        ("campaigns.q3-calling-play.volume.audience", "Demand"),
        ("pools.sdr.headcount", "Capacity"),
        ("pools.ae.hires[1].count", "Capacity"),
        ("stages.proposal.next.won", "Conversion"),
        ("segments.enterprise.deal_value.mean", "Deal size"),
        ("friction.h2-budget-scrutiny.dwell", "Friction"),
        ("friction.recession.probability", "Friction"),
        ("friction.recession.lost", "Friction"),
    ]:
        assert by_path[path].group == group, path
    # what a window does not do, dates, costs and shapes are not offered by default
    for path in ("friction.h2-budget-scrutiny.lost", "friction.recession.start",
                 "campaigns.trade-show.cost.fixed", "stages.inquiry.dwell.cv",
                 "friction.h2-budget-scrutiny.probability"):
        assert path not in by_path
    assert by_path["pools.ae.hires[0].count"].label == "ae hires on 01 Apr 2027"
    assert by_path["stages.mql.next.sal"].label == "mql → sal"
    assert [s.group for s in baseline.levers] == sorted(
        (s.group for s in baseline.levers), key=["Demand", "Capacity", "Conversion",
                                                 "Deal size", "Friction"].index)


def test_lever_ranges_hold_the_value_and_both_ends_are_valid(baseline):
    for s in baseline.levers:
        assert s.start < s.end and s.start <= s.value <= s.end, s.path
        assert s.step > 0
        for x in (s.start, s.end):
            baseline.scenario_with({s.path: x})  # raises if not a valid scenario
        if s.kind == "probability":
            assert 0 <= s.start and s.end <= 1
        if s.kind in ("money", "count"):
            assert s.end >= 2 * s.value  # room to double a budget or a team


def test_uncertain_lever_moves_the_centre_and_keeps_the_spread(baseline):
    s = baseline.specs["pools.ae.headcount"]  # triangular 26 / 28 / 30
    assert s.uncertain and s.value == pytest.approx(28)
    raw = to_raw(baseline.scenario_with({s.path: 33}))
    assert raw["pools"]["ae"]["headcount"] == {"dist": "triangular", "low": 31, "mode": 33,
                                               "high": 35}
    b = baseline.specs["stages.proposal.next.won"]  # beta mean 0.45 sd 0.06
    raw = to_raw(baseline.scenario_with({b.path: 0.5}))
    assert raw["stages"][4]["next"]["won"] == {"dist": "beta", "mean": 0.5, "sd": 0.06}


def test_search_adds_any_numeric_path_and_refuses_others(baseline):
    assert "stages.sal.patience.mean" in baseline.searchable()
    assert not any(p.endswith(".start") and p.startswith("friction.")
                   for p in baseline.searchable())
    s = baseline.add_lever("stages.sal.patience.mean")
    assert s.group == "Added" and s.value == 7 and s.start < 7 < s.end
    with pytest.raises(SimEngineError, match="did you mean"):
        baseline.add_lever("pools.sdr.headcont")
    with pytest.raises(SimEngineError, match="date"):
        baseline.add_lever("friction.recession.start")


# --- outcomes on common random numbers ----------------------------------------------------------
def test_no_lever_moved_is_the_reference_with_zero_change(ex):
    o = final(ex, {})
    assert not o.moved and o.final and o.draws == 60
    np.testing.assert_array_equal(o.bookings, o.reference)
    assert o.d_mean == 0 and o.d_p_goal == 0 and o.d_spend == 0
    assert o.p_goal == se.prob_goal(ex.reference().ds).p


def test_staged_outcome_equals_one_run_of_the_moved_scenario(ex):
    stages = list(ex.evaluate({BUDGET: 80_000}))
    assert [o.draws for o in stages] == [20, 60]
    assert not stages[0].final and stages[-1].final
    whatif = ex.scenario_with({BUDGET: 80_000})
    ds = se.simulate(whatif, draws=60, seed=3, progress=False)
    np.testing.assert_array_equal(stages[-1].bookings, ds.revenue.sum("period").values)
    # the first look is the first 20 draws of the same run
    np.testing.assert_array_equal(stages[0].bookings, stages[-1].bookings[:20])
    assert stages[-1].d_spend == pytest.approx(30_000)
    assert stages[-1].p_goal == pytest.approx(se.prob_goal(ds).p)


def test_paired_change_is_the_levers_effect_not_noise(ex):
    o = final(ex, {BUDGET: 80_000})  # 600 more leads than 1,000 + 600
    d = o.bookings - o.reference
    var_independent = o.bookings.var(ddof=1) + o.reference.var(ddof=1)
    assert d.var(ddof=1) < 0.5 * var_independent  # common random numbers pair the draws
    assert o.d_mean > 4 * o.d_mean_se  # more leads, more bookings
    assert o.d_p5 <= o.d_mean <= o.d_p95
    assert o.d_p_goal == pytest.approx(o.p_goal - o.ref_p_goal)
    # moving the lever back gives the reference exactly
    back = final(ex, {BUDGET: 50_000})
    np.testing.assert_array_equal(back.bookings, back.reference)


def test_figure_data_have_the_shapes_of_the_grid(ex):
    o = final(ex, {BUDGET: 60_000})
    periods = len(o.period_start)
    assert o.monthly.shape == (5, periods) and o.cumulative.shape == (5, periods + 1)
    assert np.all(np.diff(o.cumulative, axis=0) >= 0)  # quantiles in order
    assert np.all(np.diff(o.cumulative, axis=1) >= -1e-9)  # cumulative bookings never fall
    assert o.goal_path[0] == 0 and o.goal_path[-1] == pytest.approx(1_400_000)


def test_invalid_setting_is_a_scenario_error(ex):
    with pytest.raises(ScenarioError):
        final(ex, {BUDGET: -5.0})
    with pytest.raises(SimEngineError, match="add it first"):
        final(ex, {"stages.lead.dwell.mean": 3.0})


def test_cancelled_run_stops_between_chunks(ex):
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2  # after the first look has started

    with pytest.raises(Superseded):
        list(ex.evaluate({BUDGET: 70_000}, cancelled=cancelled))
    assert len(asked) == 3


# --- the runner: a newer setting supersedes ---------------------------------------------------
class _SlowExplorer:
    """Stands in for an Explorer: a run waits for ``go``, then stops if it was superseded."""

    def __init__(self):
        self.started = threading.Event()
        self.go = threading.Event()
        self.cancelled_runs: list[dict] = []

    def evaluate(self, values, cancelled=None):
        self.started.set()
        self.go.wait()
        if cancelled():
            self.cancelled_runs.append(values)
            raise Superseded
        yield ("first look", values)
        yield ("final", values)


def test_newer_setting_supersedes_the_running_one():
    fake = _SlowExplorer()
    shown: list[tuple[int, object]] = []
    runner = Runner(fake, lambda gen, result: shown.append((gen, result)))
    try:
        g1 = runner.submit({"x": 1})
        assert fake.started.wait(5)
        g2 = runner.submit({"x": 2})
        g3 = runner.submit({"x": 3})  # replaces the queued x = 2 before it ever runs
        fake.go.set()
        assert runner.wait_idle(10)
        assert runner.is_current(3) and not runner.is_current(1)
    finally:
        runner.close(5)
    assert (g1, g2, g3) == (1, 2, 3)
    assert fake.cancelled_runs == [{"x": 1}]
    assert shown == [(3, ("first look", {"x": 3})), (3, ("final", {"x": 3}))]


def test_runner_reports_invalid_settings(ex):
    shown = []
    runner = Runner(ex, lambda gen, result: shown.append((gen, result)))
    try:
        runner.submit({BUDGET: -1.0})
        assert runner.wait_idle(60)
    finally:
        runner.close(5)
    (gen, result), = shown
    assert gen == 1 and isinstance(result, Failure) and not result.internal
    assert "budget" in result.message


# --- save as scenario, export -----------------------------------------------------------------
def test_save_round_trip_extends_the_original_and_runs(ex, small_path, tmp_path):
    values = {BUDGET: 80_000, "stages.lead.next.opportunity": 0.35,
              "friction.slow-h2.dwell": 1.5}
    out = tmp_path / "sub" / "whatif.yaml"
    out.parent.mkdir()
    ex.out_dir = tmp_path
    ex.save(values, "sub/whatif.yaml")
    doc = yaml.safe_load(out.read_text())
    assert doc["extends"] == Path("..", "..", small_path.parent.name, small_path.name).as_posix() \
        or (out.parent / doc["extends"]).resolve() == small_path.resolve()
    assert set(doc) == {"name", "description", "extends", "campaigns", "stages", "friction"}
    assert doc["campaigns"] == [{"name": "search", "volume": {"budget": 80000.0,
                                                              "cost_per_lead": 50.0}}]
    saved = se.load_scenario(out)
    whatif = ex.scenario_with(values)
    assert canonical_json(saved.model_copy(update={"name": "", "description": ""})) == \
        canonical_json(whatif.model_copy(update={"name": "", "description": ""}))
    assert main(["validate", str(out)]) == 0
    # it runs, and on the same seed gives the explorer's numbers
    ds = se.simulate(saved, draws=60, seed=3, progress=False)
    np.testing.assert_array_equal(ds.revenue.sum("period").values,
                                  final(ex, values).bookings)


def test_save_writes_lists_that_do_not_merge_by_name_whole(baseline, tmp_path):
    values = {"pools.ae.hires[0].count": 6, "segments.midmarket.deal_value.mean": 50_000}
    baseline.out_dir = tmp_path
    out = baseline.save(values, "hires.yaml")
    doc = yaml.safe_load(out.read_text())
    assert [h["count"] for h in doc["pools"]["ae"]["hires"]] == [6, 3]
    raw = to_raw(se.load_scenario(out))
    assert [h["count"] for h in raw["pools"]["ae"]["hires"]] == [6, 3]
    assert raw["segments"]["midmarket"]["deal_value"]["mean"]["mean"] == 50_000


def test_save_refuses_the_original_other_files_and_wrong_names(ex, small_path, tmp_path):
    ex.out_dir = small_path.parent
    with pytest.raises(SimEngineError, match="never writes it"):
        ex.save({}, small_path.name)
    ex.out_dir = tmp_path
    taken = tmp_path / "taken.yaml"
    taken.write_text("x: 1\n")
    with pytest.raises(SimEngineError, match="existing one"):
        ex.save({}, "taken.yaml")
    assert taken.read_text() == "x: 1\n"
    with pytest.raises(SimEngineError, match="ending in .yaml"):
        ex.save({}, "whatif.txt")
    with pytest.raises(SimEngineError, match="existing folder"):
        ex.save({}, "no/whatif.yaml")
    mine = ex.save({BUDGET: 60_000}, "mine.yaml")
    ex.save({BUDGET: 70_000}, "mine.yaml")  # its own earlier file may be replaced
    assert to_raw(se.load_scenario(mine))["campaigns"][0]["volume"]["budget"] == 70_000
    assert list(tmp_path.glob(".*")) == []  # no temporary file left behind


def test_overlay_is_the_inverse_of_extends_merge():
    base = {"a": 1, "b": {"c": 2, "d": 3}, "stages": [{"name": "x", "p": 1}, {"name": "y"}],
            "l": [1, 2], "v": {"dist": "beta", "mean": 0.5, "sd": 0.1}}
    new = {"a": 1, "b": {"c": 5, "d": 3}, "stages": [{"name": "x", "p": 2}, {"name": "y"}],
           "l": [1, 3], "v": {"dist": "beta", "mean": 0.6, "sd": 0.1}}
    assert overlay(base, new) == {"b": {"c": 5}, "stages": [{"name": "x", "p": 2}],
                                  "l": [1, 3], "v": {"dist": "beta", "mean": 0.6, "sd": 0.1}}


def test_export_writes_the_report_of_the_what_if(ex, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    ex.out_dir = tmp_path
    path = ex.export({BUDGET: 80_000}, "whatif.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "what-if" in text and "as loaded" in text
    assert '<section id="comparison"' in text  # the what-if against the scenario as loaded
    with pytest.raises(SimEngineError, match=".html"):
        ex.export({}, "whatif.pdf")


@pytest.mark.parametrize("name,found", [
    ("/tmp/evil.yaml", "an absolute path"),
    ("~/evil.yaml", "an absolute path"),
    ("../evil.yaml", "'..' in the path"),
    ("sub/../../evil.yaml", "'..' in the path"),
    ("link/evil.yaml", "a path that leads outside it"),
    ("", "an empty name"),
])
def test_save_and_export_write_only_inside_the_output_folder(ex, tmp_path, name, found):
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (inside / "link").symlink_to(outside, target_is_directory=True)
    ex.out_dir = inside
    for write, suffix in ((ex.save, ".yaml"), (ex.export, ".html")):
        target = name.replace(".yaml", suffix)
        with pytest.raises(SimEngineError, match=re.escape(found)):
            write({BUDGET: 70_000}, target)
    assert not list(outside.iterdir()) and not (tmp_path / "evil.yaml").exists()
    assert sorted(p.name for p in inside.iterdir()) == ["link"]
    assert ex.save({}, "ok.yaml") == inside / "ok.yaml"  # a plain name is fine


def test_explore_refuses_an_out_dir_that_is_not_a_folder(small_path, tmp_path):
    with pytest.raises(SimEngineError, match="--out-dir .*expected an existing folder"):
        Explorer(small_path, draws=60, out_dir=tmp_path / "none")


# --- access: loopback by default, a token anywhere else ---------------------------------------
def test_token_is_required_off_loopback_only():
    from simengine.explore.server import access, needs_token

    assert not needs_token("127.0.0.1") and not needs_token("localhost")
    assert needs_token("0.0.0.0") and needs_token("10.0.0.5")
    local = access("127.0.0.1", 0)
    assert local.token is None and local.port > 0 and "token" not in local.url
    assert local.origins == [f"127.0.0.1:{local.port}", f"localhost:{local.port}"]
    shared = access("0.0.0.0", 0)
    assert shared.token and len(shared.token) >= 20 and f"?token={shared.token}" in shared.url
    assert access("0.0.0.0", 0).token != shared.token


def test_busy_port_and_foreign_host_are_input_errors():
    from simengine.explore.server import access

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(SimEngineError, match=f"--port {port}: .*in use"):
            access("127.0.0.1", port)
    with pytest.raises(SimEngineError, match="--host 192.0.2.1"):
        access("192.0.2.1", 0)  # TEST-NET-1: never an address of this machine


def _get(url: str, cookie: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_server_rejects_requests_without_the_token(ex):
    from simengine.explore.server import COOKIE, Access, free_port, serve

    acc = Access("127.0.0.1", free_port(), token="s3cret-token")
    server = serve(ex, acc, threaded=True)
    try:
        base = f"http://127.0.0.1:{acc.port}/"
        for _ in range(100):  # the server thread starts listening
            try:
                socket.create_connection(("127.0.0.1", acc.port), timeout=1).close()
                break
            except OSError:
                threading.Event().wait(0.1)
        assert _get(base)[0] == 403
        assert _get(base + "?token=wrong")[0] == 403
        assert _get(base + "ws")[0] == 403  # the websocket too
        status, headers = _get(base + "?token=s3cret-token")
        assert status == 200
        assert f"{COOKIE}=s3cret-token" in headers["Set-Cookie"]
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert _get(base, cookie=f"{COOKIE}=s3cret-token")[0] == 200
        assert _get(base, cookie=f"{COOKIE}=wrong")[0] == 403
    finally:
        server.stop()


# --- the page's logic, without a browser --------------------------------------------------------
def test_page_marks_results_stale_and_shows_only_the_newest(ex):
    import param

    from simengine.explore.app import Page

    page = Page(ex)
    try:
        assert page.runner.wait_idle(60)
        assert 'data-state="final"' in page.status.object
        assert 'id="p-goal"' in page.tiles.object and "none" in page.tiles.object
        with param.edit_constant(page.sliders[BUDGET]):  # what releasing the slider does
            page.sliders[BUDGET].value_throttled = 80_000.0
        assert 'data-generation="2"' in page.status.object  # marked at once, then shown
        assert page.runner.wait_idle(60)
        assert 'data-generation="2"' in page.status.object
        assert 'data-state="final"' in page.status.object
        assert "points" in page.tiles.object and "search budget" in page.changes.object
        assert len(page.src_cum.data["p50"]) == len(page.last.period_start) + 1
        # a result of an older generation arriving late is not shown
        before = page.tiles.object
        page._show(1, page.last)
        assert page.tiles.object == before
        page._reset()
        assert page.runner.wait_idle(60)
        assert "No lever moved" in page.changes.object
        assert page.sliders[BUDGET].value == 50_000
        # the search box adds a lever under "Added", and says why it cannot add another
        page._add(SimpleNamespace(new="stages.lead.dwell.mean"))
        assert "stages.lead.dwell.mean" in page.sliders and page.cards["Added"].visible
        assert page.values["stages.lead.dwell.mean"] == 10
        page._add(SimpleNamespace(new="stages.lead.dwel.mean"))
        assert "did you mean" in page.search_msg.object
    finally:
        page.runner.close(5)


# --- CLI --------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["explore", "no/such.yaml", "--port", "0"], "no such scenario file"),
    (["explore", "scenarios/baseline.yaml", "--port", "0", "--draws", "5"],
     "--draws: expected at least 20"),
    (["explore", "scenarios/baseline.yaml", "--port", "70000"], "--port: expected a port"),
])
def test_cli_input_errors(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


# --- a plan next to the scenario ----------------------------------------------------------------
def _plan_file(small_path: Path, tmp_path: Path, body: str, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"name: small-plan\ndescription: a plan\nextends: {small_path}\n{body}")
    return path


PLAN_BODY = """\
campaigns:
  - name: search
    volume: {budget: 250000, cost_per_lead: 50}
stages:
  - name: opportunity
    next: {won: 0.3}
"""


def test_plan_is_shown_next_to_the_loaded_values_with_its_cost_and_p_goal(small_path,
                                                                           tmp_path):
    plan_path = _plan_file(small_path, tmp_path, PLAN_BODY)
    ex = Explorer(small_path, draws=60, seed=3, first_look=20, plan=plan_path)
    plan = ex.plan
    assert dict((p, (a, b)) for p, a, b in plan.levers) == {
        BUDGET: (50_000.0, 250_000.0), "stages.opportunity.next.won": (0.25, 0.3)}
    assert plan.other == () and plan.description == "a plan"
    # 250k is beyond the slider's 3 x the loaded budget: the slider is widened to hold it
    assert ex.specs[BUDGET].end >= 250_000 >= ex.specs[BUDGET].start
    # its P(goal) and cost are those of the plan file simulated on the explorer's draws
    o = ex.plan_outcome()
    ds = se.simulate(se.load_scenario(plan_path), draws=60, seed=3, progress=False)
    ref = se.simulate(se.load_scenario(small_path), draws=60, seed=3, progress=False)
    goal = 1_400_000
    assert o.p_goal == pytest.approx(float((ds.revenue.sum("period") >= goal).mean()))
    assert o.ref_p_goal == pytest.approx(float((ref.revenue.sum("period") >= goal).mean()))
    assert o.cost == pytest.approx(float(ds.campaign_cost.sum("campaign").mean()))
    assert o.ref_cost == pytest.approx(float(ref.campaign_cost.sum("campaign").mean()))
    assert o.cost - o.ref_cost == pytest.approx(200_000)  # the budget is what is spent
    assert ex.plan_outcome() is o  # simulated once


def test_plan_written_by_optimize_opens_in_the_explorer(small_path, tmp_path):
    from simengine.analysis.optimize import PlanOutOfReach, write_plan

    try:
        r = se.optimize(small_path, {BUDGET: (20_000, 150_000)}, confidence=0.5, draws=40,
                        seed=0, frontier=0)
    except PlanOutOfReach as exc:  # still a plan, written all the same
        r = exc.result
    out = write_plan(r, small_path, tmp_path / "opt-plan.yaml")
    ex = Explorer(small_path, draws=40, seed=0, first_look=0, plan=out)
    assert ex.plan.levers == ((BUDGET, 50_000.0, pytest.approx(r.values[BUDGET])),)
    assert "Plan optimizer" in ex.plan.description


def test_plan_lists_what_no_slider_sets_and_refuses_other_scenarios(small_path, tmp_path):
    moved = _plan_file(small_path, tmp_path, "friction:\n  - name: freeze\n    start: "
                       "2027-06-01\n", "dates.yaml")
    ex = Explorer(small_path, draws=40, seed=3, first_look=0, plan=moved)
    assert ex.plan.levers == ()
    assert any("freeze" in x and "2027-06-01" in x for x in ex.plan.other)
    other = tmp_path / "other.yaml"
    other.write_text(SMALL.replace("name: events", "name: webinars"))
    with pytest.raises(SimEngineError, match=r"--plan .*other.yaml: expected a plan of "
                       r"small.yaml .*found a scenario with other parameters"):
        Explorer(small_path, draws=40, plan=other)
    with pytest.raises(SimEngineError, match="expected a plan file"):
        Explorer(small_path, draws=40, plan=tmp_path / "none.yaml")


def test_page_shows_and_applies_the_plan(small_path, tmp_path):
    from simengine.explore.app import Page

    ex = Explorer(small_path, draws=60, seed=3, first_look=20,
                  plan=_plan_file(small_path, tmp_path, PLAN_BODY))
    o = ex.plan_outcome()
    page = Page(ex)
    try:
        assert page.runner.wait_idle(60)
        text = page.plan_pane.object
        assert "search budget" in text and "$50k" in text and "$250k" in text
        assert f"{100 * o.p_goal:.1f} ± {100 * o.p_goal_se:.1f} %" in text
        page._apply_plan()
        assert page.runner.wait_idle(60)
        assert page.sliders[BUDGET].value == 250_000
        assert page.values["stages.opportunity.next.won"] == 0.3
        # the page's result of the applied plan is the plan's outcome
        assert page.last.p_goal == pytest.approx(o.p_goal) and page.last.final
        assert "search budget" in page.changes.object
    finally:
        page.runner.close(5)


def test_cli_refuses_a_missing_plan(capsys):
    assert main(["explore", "scenarios/baseline.yaml", "--port", "0", "--plan",
                 "no/such/plan.yaml"]) == 2
    assert "--plan no/such/plan.yaml: expected a plan file" in capsys.readouterr().err
