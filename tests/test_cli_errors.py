"""Bad input gets one clear line (file, line, dotted path, expected, found), exit code 2, no
traceback and nothing written (STYLE section 5: a table of input -> message)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simengine.cli import main

GOOD = """\
name: t
horizon: {start: 2027-01-01, days: 365}
deal_value: 1000
stages:
  - name: a
    dwell: {dist: lognormal, mean: 4, cv: 0.8}
    next: {b: 0.5}
  - name: b
    dwell: {dist: gamma, mean: 10, cv: 0.5}
    next: {won: {dist: beta, mean: 0.3, sd: 0.05}}
    no_decision: 0.1
campaigns:
  - name: c
    enters: a
    schedule: {start: 2027-01-01, end: 2027-06-30}
    volume: {leads: 1000}
"""

CASES = [
    # (name, replace-from, replace-to, message regex)
    ("unknown key", "    dwell: {dist: lognormal", "    dwel: {dist: lognormal",
     r"bad\.yaml:6: stages\[0\]\.dwel: expected one of the keys .*did you mean 'dwell'\?.*"
     r"found unknown key 'dwel'"),
    ("unknown stage", "next: {b: 0.5}", "next: {bb: 0.5}",
     r"stages\[0\]\.next\.bb: expected a later stage or won \(stages: a, b\) \(did you mean "
     r"'b'\?\), found 'bb'"),
    ("probability over 1", "next: {b: 0.5}", "next: {b: 1.3}",
     r"bad\.yaml:7: stages\[0\]\.next\.b: expected a probability in \[0, 1\], found 1\.3"),
    ("probabilities sum over 1", "    no_decision: 0.1", "    no_decision: 0.8",
     r"stages\[1\]\.next: expected next \+ no_decision \+ recycle\.p summing to at most 1, "
     r"found a sum of 1\.1"),
    ("non-positive mean", "mean: 4, cv: 0.8", "mean: -4, cv: 0.8",
     r"stages\[0\]\.dwell\.mean: expected a mean > 0, found -4"),
    ("impossible beta", "mean: 0.3, sd: 0.05", "mean: 0.3, sd: 0.6",
     r"stages\[1\]\.next\.won\.sd: expected an sd < sqrt\(mean\*\(1-mean\)\) = 0\.4583.*"
     r"found 0\.6"),
    ("end before start", "end: 2027-06-30", "end: 2026-06-30",
     r"campaigns\[0\]\.schedule\.end: expected a date on or after start \(2027-01-01\), "
     r"found 2026-06-30"),
    ("unknown distribution", "dist: gamma", "dist: gama",
     r"stages\[1\]\.dwell: expected a distribution name, one of fixed, uniform, .*found 'gama'"),
    ("unknown segment", "    volume: {leads: 1000}",
     "    volume: {leads: 1000}\n    segment_mix: {smb: 1.0}",
     r"campaigns\[0\]\.segment_mix\.smb: expected a segment defined in the scenario \(all\)"),
    ("unknown pool", "    no_decision: 0.1", "    no_decision: 0.1\n    worked_by: ae",
     r"stages\[1\]\.worked_by: expected a pool defined in the scenario \(none defined\), "
     r"found 'ae'"),
    ("not a number", "volume: {leads: 1000}", "volume: {leads: many}",
     r"campaigns\[0\]\.volume\.leads: expected a number or a distribution \{dist: NAME, \.\.\.\}"
     r", found 'many'"),
    ("bad volume form", "volume: {leads: 1000}", "volume: {people: 1000}",
     r"campaigns\[0\]\.volume: expected one of \{leads: N\}.*found \{\"people\": 1000\}"),
    ("bad date", "start: 2027-01-01, days", "start: 2027-13-01, days",
     r"horizon\.start: expected an ISO date \(YYYY-MM-DD\), found '2027-13-01'"),
    ("normal can be negative", "    no_decision: 0.1",
     "    no_decision: {dist: normal, mean: 0.1, sd: 0.05}",
     r"stages\[1\]\.no_decision: expected a probability in \[0, 1\] \(a normal is unbounded: "
     r"add low: 0, high: 1 to truncate it"),
    ("per-draw normal mean of a positive quantity", "dist: gamma, mean: 10,",
     "dist: gamma, mean: {dist: normal, mean: 10, sd: 3},",
     r"bad\.yaml:9: stages\[1\]\.dwell\.mean: expected a mean > 0 \(a normal is unbounded: add "
     r"low: 0 to truncate it, or use lognormal/gamma\)"),
    ("unknown stage in enters", "    enters: a", "    enters: aa",
     r"bad\.yaml:\d+: campaigns\[0\]\.enters: expected a stage defined in the scenario \(a, b\) "
     r"\(did you mean 'a'\?\), found 'aa'"),
    ("duplicate key", "    no_decision: 0.1", "    no_decision: 0.1\n    no_decision: 0.2",
     r"bad\.yaml:12: stages\[1\]\.no_decision: expected each key once in a mapping, found "
     r"'no_decision' again \(first at line 11\)"),
    ("duplicate stage key in next", "next: {b: 0.5}", "next: {b: 0.5, b: 0.4}",
     r"bad\.yaml:7: stages\[0\]\.next\.b: expected each key once in a mapping, found 'b' "
     r"again \(first at line 7\)"),
    ("yaml syntax error", "next: {b: 0.5}", "next: {b: 0.5",
     r"bad\.yaml:\d+: YAML syntax error"),
    ("missing key", "    enters: a\n", "",
     r"campaigns\[0\]\.enters: expected a value for the required key 'enters', found nothing"),
]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return p


def _run_bad(tmp_path, capsys, argv):
    out = tmp_path / "out" / "r.nc"
    plots = tmp_path / "plots"
    code = main(argv + ["-o", str(out), "--plots", str(plots)] if argv[0] == "run" else argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists() and not plots.exists() and not (tmp_path / "out").exists()
    return " ".join(captured.err.split())


@pytest.mark.parametrize("name,old,new,pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_scenario_is_reported_precisely(tmp_path, capsys, name, old, new, pattern):
    assert old in GOOD, name
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    err = _run_bad(tmp_path, capsys, ["run", str(path), "-n", "5"])
    assert __import__("re").search(pattern, err), err
    # validate reports the same, also with exit code 2
    assert main(["validate", str(path)]) == 2


def test_good_file_is_good(tmp_path):
    assert main(["validate", str(_write(tmp_path, GOOD))]) == 0


def test_empty_file(tmp_path, capsys):
    err = _run_bad(tmp_path, capsys, ["run", str(_write(tmp_path, "")), "-n", "5"])
    assert "bad.yaml: expected a scenario (a YAML mapping), found an empty file" in err


def test_missing_file(tmp_path, capsys):
    err = _run_bad(tmp_path, capsys, ["run", str(tmp_path / "nope.yaml")])
    assert "nope.yaml: no such scenario file" in err


def test_every_problem_of_a_file_is_reported(tmp_path, capsys):
    text = GOOD.replace("next: {b: 0.5}", "next: {b: 1.5}").replace("mean: 4,", "mean: -4,")
    err = _run_bad(tmp_path, capsys, ["run", str(_write(tmp_path, text))])
    assert "stages[0].next.b" in err and "stages[0].dwell.mean" in err


def test_extends_a_missing_base(tmp_path, capsys):
    path = _write(tmp_path, "extends: base.yaml\nname: x\n")
    err = _run_bad(tmp_path, capsys, ["run", str(path)])
    assert "extends: expected an existing scenario file, found 'base.yaml'" in err


def test_set_with_an_unknown_path(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    err = _run_bad(tmp_path, capsys, ["run", str(path), "--set", "campaigns.nope.volume.leads=5"])
    assert "--set campaigns.nope.volume.leads: campaigns.nope: expected one of c, found 'nope'" \
        in err


def test_set_with_a_bad_value(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    err = _run_bad(tmp_path, capsys, ["run", str(path), "--set", "stages.a.next.b=2"])
    assert ("--set stages.a.next.b: stages[0].next.b: expected a probability in [0, 1], "
            "found 2") in err
    assert "bad.yaml" not in err  # the file is not to blame


def test_unknown_key_inside_a_distribution_lists_its_parameters(tmp_path, capsys):
    path = _write(tmp_path, GOOD.replace("mean: 4, cv: 0.8", "mean: 4, sd: 0.8"))
    err = _run_bad(tmp_path, capsys, ["run", str(path)])
    assert "stages[0].dwell.sd: expected one of the keys dist, mean, cv, found unknown key 'sd'" \
        in err


def test_an_invalid_correlation_names_the_file(tmp_path, capsys):
    text = GOOD + "correlations:\n  - {between: [stages.b.next.won, stages.a.next.b], rho: 0.5}\n"
    err = _run_bad(tmp_path, capsys, ["run", str(_write(tmp_path, text))])
    assert "bad.yaml: correlations[0].between[1]: expected an uncertain parameter" in err


def test_a_run_too_large_for_memory(tmp_path, capsys):
    err = _run_bad(tmp_path, capsys, ["run", str(_write(tmp_path, GOOD)), "-n", "3000000000"])
    assert "run too large for memory" in err and "draws fit" in err


def test_a_run_too_long(tmp_path, capsys):
    big = GOOD.replace("volume: {leads: 1000}", "volume: {leads: 2e11}")
    err = _run_bad(tmp_path, capsys, ["run", str(_write(tmp_path, big)), "-n", "1000"])
    assert "run too long" in err and "at most" in err and "draws fit" in err


def test_a_stage_worked_by_an_unknown_pool_is_refused(tmp_path, capsys):
    text = GOOD.replace("    no_decision: 0.1", "    no_decision: 0.1\n    worked_by: ae") + \
        "pools:\n  sdr: {headcount: 5, slots_per_rep: 10}\n"
    err = _run_bad(tmp_path, capsys, ["run", str(_write(tmp_path, text)), "-n", "5"])
    assert "stages[1].worked_by: expected a pool defined in the scenario (sdr), found 'ae'" in err


def test_bad_output_suffix(tmp_path, capsys):
    code = main(["run", str(_write(tmp_path, GOOD)), "-n", "5", "-o", str(tmp_path / "r.csv")])
    assert code == 2
    assert "expected a path ending in .nc or .zarr" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()


# --- every command, every kind of wrong input ----------------------------------------------
# {yaml}: a valid scenario, {csv}: a CRM export, {nc}: a saved result, {file}: an existing file,
# {amb}: a CRM export whose every day and month is 12 or less, {out}: a folder that must stay empty.
WRONG_INPUTS = [
    # (id, argv, message regex)
    ("run csv as scenario", "run {csv}", r"crm\.csv: expected a scenario YAML file, found a CSV"),
    ("run result as scenario", "run {nc}", r"r\.nc: expected a scenario YAML file, found a result"),
    ("run missing scenario", "run {out}/nope.yaml", r"nope\.yaml: no such scenario file"),
    ("run bad -o suffix", "run {yaml} -n 5 -o {out}/r.csv",
     r"-o .*r\.csv: expected a path ending in \.nc or \.zarr, found '\.csv'"),
    ("run --plots is a file", "run {yaml} -n 5 --plots {file}",
     r"--plots .*existing\.txt: expected a folder to write into, found an existing file"),
    ("run -o under a file", "run {yaml} -n 5 -o {file}/r.nc",
     r"-o .*: expected .*existing\.txt to be a folder, found a file"),
    ("run bad --report suffix", "run {yaml} -n 5 --report {out}/r.pdf",
     r"expected a report path ending in \.html, found '\.pdf'"),
    ("run --set bad date", "run {yaml} --set horizon.start=2027-13-01",
     r"--set horizon\.start: horizon\.start: expected an ISO date \(YYYY-MM-DD\), found "
     r"'2027-13-01'"),
    ("run --set stage typo", "run {yaml} --set stages.bb.dwell=3",
     r"stages\.bb: expected one of a, b \(did you mean 'b'\?\), found 'bb'"),
    ("validate csv as scenario", "validate {csv}", r"crm\.csv: expected a scenario YAML file"),
    ("validate run too large", "validate {yaml} --set campaigns.c.volume.leads=2e11",
     r"`simengine run` with 1,000 draws would be refused: run too long"),
    ("validate -n too large for memory", "validate {yaml} -n 3000000000",
     r"would be refused: run too large for memory"),
    ("plot scenario as result", "plot {yaml} -o {out}/p.png",
     r"good\.yaml: expected a result \(RESULT\.nc or RESULT\.zarr.*found a scenario "
     r"\(simulate it first"),
    ("plot csv as result", "plot {csv} -o {out}/p.png", r"crm\.csv: expected a result .*found a "
     r"CSV table"),
    ("plot not a netCDF", "plot {fake_nc} -o {out}/p.png",
     r"fake\.nc: expected a result written by simengine run -o, found a file that cannot be "
     r"read as one"),
    ("plot missing result", "plot {out}/none.nc -o {out}/p.png", r"none\.nc: no such result file"),
    ("plot bad figure suffix", "plot {nc} -o {out}/p.jpg2",
     r"-o .*p\.jpg2: expected a path ending in \.png or \.svg or \.pdf, found '\.jpg2'"),
    ("plot unknown kind", "plot {nc} --kind fann -o {out}/p.png",
     r"--kind: expected one of fan, goal, .*found 'fann'"),
    ("report csv as result", "report {csv} -o {out}/r.html", r"crm\.csv: expected a result"),
    ("report scenario as result", "report {yaml} -o {out}/r.html",
     r"good\.yaml: expected a result .*found a scenario"),
    ("report bad suffix", "report {nc} -o {out}/r.pdf", r"expected a report path ending in \.html"),
    ("export scenario as result", "export {yaml} --csv {out}/x", r"good\.yaml: expected a result"),
    ("export nothing asked", "export {nc}", r"expected --csv DIR and/or --xlsx FILE\.xlsx"),
    ("export --csv is a file", "export {nc} --csv {file}",
     r"--csv .*: expected a folder to write into, found an existing file"),
    ("export bad --xlsx suffix", "export {nc} --xlsx {out}/r.xls",
     r"--xlsx .*r\.xls: expected a path ending in \.xlsx, found '\.xls'"),
    ("calibrate scenario as CSV", "calibrate {yaml} -o {out}/s.yaml",
     r"good\.yaml: expected a CRM export \(a CSV file\), found a scenario"),
    ("calibrate bad -o suffix", "calibrate {csv} -o {out}/s.json",
     r"-o .*s\.json: expected a path ending in \.yaml or \.yml"),
    ("calibrate ambiguous dates", "calibrate {amb} -o {out}/s.yaml",
     r"amb\.csv: columns 'engage_date', 'close_date': expected dates whose order of day and "
     r"month can be told, found 6 dates like 03/04/2017 .*--date-format mdy"),
    ("calibrate missing CSV", "calibrate {out}/none.csv -o {out}/s.yaml",
     r"none\.csv: no such file"),
    ("backtest scenario as CSV", "backtest {yaml} --as-of 2017-06-30 --until 2017-09-30",
     r"good\.yaml: expected a CRM export"),
    ("backtest bad --plot suffix", "backtest {csv} --as-of 2017-06-30 --until 2017-09-30 --plot "
     "{out}/b.jpg2", r"--plot .*b\.jpg2: expected a path ending in \.png or \.svg or \.pdf"),
    ("compare csv as scenario", "compare {yaml} {csv}", r"crm\.csv: expected a scenario YAML"),
    ("compare one scenario", "compare {yaml}", r"compare: expected two or more scenario files"),
    ("compare bad -o suffix", "compare {yaml} {yaml} -o {out}/c.csv",
     r"-o .*c\.csv: expected a path ending in \.nc or \.zarr"),
    ("goal-seek csv as scenario", "goal-seek {csv} --lever goal.revenue",
     r"crm\.csv: expected a scenario YAML"),
    ("goal-seek bad --plot suffix", "goal-seek {yaml} --lever x --plot {out}/g.gif",
     r"--plot .*g\.gif: expected a path ending in \.png or \.svg or \.pdf"),
    ("sensitivity result as scenario", "sensitivity {nc}", r"r\.nc: expected a scenario YAML"),
    ("sensitivity bad --plot suffix", "sensitivity {yaml} --plot {out}/t.bmp",
     r"--plot .*t\.bmp: expected a path ending in \.png"),
    ("explore csv as scenario", "explore {csv} --port 0", r"crm\.csv: expected a scenario YAML"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    (d / "good.yaml").write_text(GOOD)
    (d / "crm.csv").write_text(
        "opportunity_id,deal_stage,engage_date,close_date,close_value\n"
        "A1,Won,2017-01-03,2017-02-13,1000\nA2,Lost,2017-01-05,2017-03-01,0\n")
    (d / "amb.csv").write_text(
        "opportunity_id,deal_stage,engage_date,close_date,close_value\n"
        "A1,Won,03/04/2017,05/06/2017,1000\nA2,Lost,01/02/2017,07/08/2017,0\n"
        "A3,Won,02/02/2017,09/10/2017,500\n")
    (d / "existing.txt").write_text("x")
    (d / "fake.nc").write_text("not a netCDF file")
    import simengine as se

    se.save(se.simulate(se.load_scenario(d / "good.yaml"), draws=5, seed=0, progress=False),
            d / "r.nc")
    return d


@pytest.mark.parametrize("name,argv,pattern", WRONG_INPUTS, ids=[c[0] for c in WRONG_INPUTS])
def test_every_command_refuses_wrong_input_in_one_line(inputs, tmp_path, capsys, name, argv,
                                                         pattern):
    if name.startswith("explore"):
        pytest.importorskip("panel")
    out = tmp_path / "out"
    out.mkdir()
    args = argv.format(yaml=inputs / "good.yaml", csv=inputs / "crm.csv", nc=inputs / "r.nc",
                       file=inputs / "existing.txt", amb=inputs / "amb.csv",
                       fake_nc=inputs / "fake.nc", out=out).split()
    before = sorted(p.name for p in inputs.iterdir())
    code = main(args)
    captured = capsys.readouterr()
    text = captured.err + captured.out
    assert code == 2, text
    assert "Traceback" not in text and "internal error" not in text
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("error: ") for ln in lines), captured.err
    assert re.search(pattern, " ".join(captured.err.split())), captured.err
    assert not list(out.iterdir()), "nothing may be written"
    assert sorted(p.name for p in inputs.iterdir()) == before


def test_a_file_that_cannot_be_written_is_a_user_error(inputs, tmp_path, capsys, monkeypatch):
    import simengine.export

    def denied(tabs, folder):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(simengine.export, "to_csv", denied)
    code = main(["export", str(inputs / "r.nc"), "--csv", str(tmp_path / "locked")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip() == f"error: {tmp_path / 'locked'}: Permission denied"
