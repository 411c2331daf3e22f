"""Scale and precision: the Dask backend, streaming to zarr
with resume, and runs that stop at a requested standard error. Every one of them must give the
bits of a plain threads run of the same draws."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import xarray as xr
import zarr

import simengine as se
from simengine import api
from simengine.cli import main
from simengine.compile import compile_scenario
from simengine.dataset import assemble
from simengine.engine import run as engine_run
from simengine.engine import stream
from simengine.engine.run import run
from simengine.engine.sampling import BLOCK

AF = "tests/scenarios/all_features.yaml"
BASE = "scenarios/baseline.yaml"
VOLATILE = ("created", "elapsed_seconds")
PRECISION_ATTRS = ("until_se", "max_draws", "converged", "prob_goal_se", "bookings_p50_se",
                   "precision_method")


def _strip(ds: xr.Dataset, *extra: str) -> xr.Dataset:
    ds = ds.copy()
    for k in VOLATILE + extra:
        ds.attrs.pop(k, None)
    return ds


def _as_stored(ds: xr.Dataset, tmp_path) -> xr.Dataset:
    """An in-memory result as it reads back from a zarr file (str coordinates)."""
    return se.load(se.save(ds, tmp_path / "reference.zarr")).load()


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def af_goal():
    """all_features with its goal at about the median, so P(goal) is near 0.5."""
    return se.with_values(se.load_scenario(AF), {"goal.revenue": 16.6e6})


@pytest.fixture
def small_appends(monkeypatch):
    """One append per chunk, so interrupted runs leave several appends behind."""
    monkeypatch.setattr(stream, "FLUSH_BYTES", 1)


# --- Dask backend ------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 7, 24])
def test_dask_backend_is_bitwise_identical_to_threads(client, chunk):
    ref = se.simulate(AF, draws=24, seed=99, progress=False, threads=2, chunk_draws=13)
    ds = se.simulate(AF, draws=24, seed=99, progress=False, backend="dask",
                     scheduler=client.scheduler.address, chunk_draws=chunk)
    xr.testing.assert_identical(_strip(ref), _strip(ds))


def test_dask_backend_capacity_path_and_quasi_random_sampling(client):
    ref = se.simulate(BASE, draws=8, seed=4, progress=False, sampling="sobol", chunk_draws=8)
    ds = se.simulate(BASE, draws=8, seed=4, progress=False, sampling="sobol", backend="dask",
                     scheduler=client, chunk_draws=3)
    xr.testing.assert_identical(_strip(ref), _strip(ds))


def test_a_worker_killed_mid_run_changes_nothing(client):
    cs = compile_scenario(se.load_scenario(BASE))
    ref = assemble(run(cs, 24, 8, chunk_draws=2))
    victim, pid = sorted(client.run(os.getpid).items())[0]
    killed = []

    def kill_once(_):
        if not killed:
            killed.append(len(client.processing().get(victim, ())))
            os.kill(pid, signal.SIGKILL)

    raw = run(cs, 24, 8, chunk_draws=2, backend="dask", scheduler=client, on_chunk=kill_once)
    xr.testing.assert_identical(_strip(ref), _strip(assemble(raw)))

    def lost(dask_scheduler):  # chunks that were running on the dead worker and started again
        return [k for k, start, finish, *_ in dask_scheduler.transition_log
                if str(k).startswith("simengine-draws") and start == "processing"
                and finish in ("released", "waiting", "no-worker")]

    assert killed and killed[0] > 0, "the worker had no chunk when it was killed"
    assert client.run_on_scheduler(lost), "no chunk was lost with the worker"
    client.wait_for_workers(2, timeout=120)  # the nanny restarts it


def test_unknown_backend_and_scheduler_without_dask_are_refused():
    with pytest.raises(se.SimEngineError, match="backend: expected one of threads, dask"):
        se.simulate(AF, draws=2, progress=False, backend="ray")
    with pytest.raises(se.SimEngineError, match="scheduler: only with backend 'dask'"):
        se.simulate(AF, draws=2, progress=False, scheduler="tcp://127.0.0.1:1")


# --- streaming to zarr ---------------------------------------------------------------------------
@pytest.mark.parametrize("backend, path, draws", [("threads", AF, 30), ("dask", BASE, 12)])
def test_streamed_store_reads_back_identical(tmp_path, small_appends, client, backend, path,
                                             draws):
    ref = se.simulate(path, draws=draws, seed=3, progress=False)
    ds = se.simulate(path, draws=draws, seed=3, progress=False, chunk_draws=5, store=tmp_path /
                     "r.zarr", backend=backend, scheduler=client if backend == "dask" else None)
    assert ds.revenue.chunks is not None  # read lazily
    assert stream.settings(tmp_path / "r.zarr") is None  # finished
    xr.testing.assert_identical(_strip(_as_stored(ref, tmp_path)), _strip(ds.load()))


def test_summaries_read_a_streamed_store_lazily(tmp_path):
    ref = se.simulate(AF, draws=24, seed=5, progress=False)
    ds = se.simulate(AF, draws=24, seed=5, progress=False, store=tmp_path / "r.zarr")
    assert ds.revenue.chunks is not None and ds.entered.chunks is not None
    assert se.prob_goal(ds) == se.prob_goal(ref)
    a, b = se.summarize(ds), se.summarize(ref)
    np.testing.assert_array_equal(a.bookings.values, b.bookings.values)
    # dask interpolates the monthly quantiles in another order: equal to rounding
    np.testing.assert_allclose(a.monthly.revenue.values, b.monthly.revenue.values, rtol=1e-13)


class _Interrupt(Exception):
    pass


def _interrupt_after(monkeypatch, parts: int):
    """Make the next streamed run stop (as on Ctrl-C) after ``parts`` chunks."""
    real = engine_run.iter_chunks
    seen = [0]

    def cut(*args, **kw):
        for part in real(*args, **kw):
            if seen[0] == parts:
                raise _Interrupt
            seen[0] += 1
            yield part

    monkeypatch.setattr(engine_run, "iter_chunks", cut)
    return real


def test_an_interrupted_stream_says_so_and_resume_completes_it(tmp_path, small_appends,
                                                               monkeypatch, capsys):
    path = tmp_path / "r.zarr"
    real = _interrupt_after(monkeypatch, 3)
    with pytest.raises(_Interrupt):
        se.simulate(AF, draws=40, seed=3, progress=False, chunk_draws=6, store=path)
    monkeypatch.setattr(engine_run, "iter_chunks", real)
    st = stream.settings(path)
    assert st["draws"] == 40 and st["committed"] == 18  # the three chunks before the stop
    with pytest.raises(se.SimEngineError, match="interrupted run .18 of 40 draws written.*"
                       "--resume"):
        se.load(path)
    assert se.load(path, partial=True).sizes["draw"] == 18
    # a new run onto the unfinished store is refused, and so are other options on resume
    assert main(["run", AF, "-o", str(path), "--no-progress"]) == 2
    assert main(["run", AF, "-o", str(path), "--resume", "--seed", "4", "--no-progress"]) == 2
    assert "expected the interrupted run's value 3" in capsys.readouterr().err
    assert main(["run", AF, "-o", str(path), "--resume", "--no-progress"]) == 0
    assert "40 draws, seed 3" in capsys.readouterr().out
    ref = se.simulate(AF, draws=40, seed=3, progress=False)
    xr.testing.assert_identical(_strip(_as_stored(ref, tmp_path)), _strip(se.load(path).load()))
    assert main(["run", AF, "-o", str(path), "--resume", "--no-progress"]) == 2  # finished


def test_resume_cuts_back_an_append_cut_short_and_may_use_another_backend(
        tmp_path, small_appends, monkeypatch, client):
    path = tmp_path / "r.zarr"
    real = _interrupt_after(monkeypatch, 2)
    with pytest.raises(_Interrupt):
        se.simulate(AF, draws=30, seed=8, progress=False, chunk_draws=5, store=path)
    monkeypatch.setattr(engine_run, "iter_chunks", real)
    # a crash inside an append: one variable grew, the commit did not happen
    group = zarr.open_group(str(path), mode="r+")
    arr = group["revenue"]
    arr.resize((arr.shape[0] + 5, *arr.shape[1:]))
    ds = api.resume(path, backend="dask", scheduler=client, progress=False)
    ref = se.simulate(AF, draws=30, seed=8, progress=False)
    xr.testing.assert_identical(_strip(_as_stored(ref, tmp_path)), _strip(ds.load()))


def test_resume_rebuilds_the_scenario_in_its_own_order(tmp_path, monkeypatch):
    # the baseline lists its pools sdr, ae and its stages' next targets unsorted: a scenario
    # rebuilt from sorted JSON would order outputs and route prospects differently
    path = tmp_path / "r.zarr"
    real = _interrupt_after(monkeypatch, 1)
    with pytest.raises(_Interrupt):
        se.simulate(BASE, draws=6, seed=2, progress=False, chunk_draws=3, store=path)
    monkeypatch.setattr(engine_run, "iter_chunks", real)
    ds = api.resume(path, progress=False)
    ref = se.simulate(BASE, draws=6, seed=2, progress=False)
    xr.testing.assert_identical(_strip(_as_stored(ref, tmp_path)), _strip(ds.load()))


def test_resume_refuses_another_scenario(tmp_path, monkeypatch, af_goal):
    path = tmp_path / "r.zarr"
    real = _interrupt_after(monkeypatch, 1)
    with pytest.raises(_Interrupt):
        se.simulate(AF, draws=20, seed=1, progress=False, chunk_draws=5, store=path)
    monkeypatch.setattr(engine_run, "iter_chunks", real)
    with pytest.raises(se.SimEngineError, match="expected the scenario the run was started"):
        api.resume(path, af_goal, progress=False)


def test_cli_streams_with_the_dask_backend(tmp_path, client, capsys):
    path = tmp_path / "r.zarr"
    code = main(["run", AF, "-n", "16", "--seed", "2", "-o", str(path), "--scheduler",
                 client.scheduler.address, "--chunk-draws", "4", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    ref = se.simulate(AF, draws=16, seed=2, progress=False)
    xr.testing.assert_identical(_strip(_as_stored(ref, tmp_path)), _strip(se.load(path).load()))


def test_resume_needs_a_zarr_output(tmp_path, capsys):
    assert main(["run", AF, "--resume", "-o", str(tmp_path / "r.nc")]) == 2
    assert "--resume: expected -o OUT.zarr" in capsys.readouterr().err
    assert main(["run", AF, "--resume", "-o", str(tmp_path / "none.zarr")]) == 2
    assert "found nothing there" in capsys.readouterr().err


# --- precision on request ------------------------------------------------------------------------
def test_until_se_equals_a_fixed_run_of_the_draws_it_used(af_goal):
    ds = se.simulate(af_goal, draws=BLOCK, seed=3, progress=False, until_se=0.03)
    n = ds.attrs["draws"]
    assert n > BLOCK and n % BLOCK == 0 and ds.attrs["converged"] == 1
    prec = api.precision(ds)
    assert prec.prob_goal_se <= 0.03 and prec.p50_relative_se <= 0.03
    assert ds.attrs["prob_goal_se"] == prec.prob_goal_se
    assert prec.prob_goal_se == se.prob_goal(ds).se  # independent draws: the binomial s.e.
    fixed = se.simulate(af_goal, draws=n, seed=3, progress=False)
    xr.testing.assert_identical(_strip(ds, *PRECISION_ATTRS), _strip(fixed))


def test_until_se_stops_at_max_draws(af_goal):
    ds = se.simulate(af_goal, draws=64, seed=3, progress=False, until_se=0.001, max_draws=200)
    assert ds.attrs["draws"] == 200 and ds.attrs["converged"] == 0


def test_until_se_is_the_same_on_every_backend_and_resumes(tmp_path, af_goal, client,
                                                           monkeypatch, small_appends):
    mem = se.simulate(af_goal, draws=BLOCK, seed=6, progress=False, until_se=0.04,
                      sampling="lhs", chunk_draws=50)
    dsk = se.simulate(af_goal, draws=BLOCK, seed=6, progress=False, until_se=0.04,
                      sampling="lhs", backend="dask", scheduler=client)
    xr.testing.assert_identical(_strip(mem), _strip(dsk))
    path = tmp_path / "r.zarr"
    real = _interrupt_after(monkeypatch, 4)
    with pytest.raises(_Interrupt):
        se.simulate(af_goal, draws=BLOCK, seed=6, progress=False, until_se=0.04,
                    sampling="lhs", chunk_draws=40, store=path)
    monkeypatch.setattr(engine_run, "iter_chunks", real)
    ds = api.resume(path, progress=False)
    xr.testing.assert_identical(_strip(_as_stored(mem, tmp_path)), _strip(ds.load()))


@pytest.mark.parametrize("kw, match", [
    ({"until_se": 0}, "until_se: expected a standard error in .0, 1."),
    ({"until_se": 1.5}, "until_se: expected a standard error"),
    ({"max_draws": 50}, "max_draws: only with until_se"),
    ({"until_se": 0.01, "max_draws": 5}, "max_draws: expected at least the first batch"),
    ({"sampling": "halton"}, "sampling: expected one of random, lhs, sobol"),
    ({"until_se": 0.01, "param_values": {"stages.a.next.b": 0.5}},
     "param_values: expected a plain run"),
])
def test_precision_and_sampling_arguments_are_checked(kw, match):
    with pytest.raises(se.SimEngineError, match=match):
        se.simulate(AF, draws=10, seed=0, progress=False, **kw)
