"""compile_scenario is one builder per section; each section's arrays read back as its record."""

from __future__ import annotations

import dataclasses

import numpy as np

import simengine as se
from simengine.compile import build, records

RECORDS = (records.StageArrays, records.SegmentArrays, records.CampaignArrays,
           records.InitialArrays, records.FrictionArrays, records.PoolArrays)


def test_sections_partition_the_section_fields_and_read_back():
    names = [f.name for r in RECORDS for f in dataclasses.fields(r)]
    assert len(names) == len(set(names))  # no field in two sections
    compiled = {f.name for f in dataclasses.fields(build.Compiled)}
    assert set(names) <= compiled
    cs = build.compile_scenario(se.load_scenario("scenarios/baseline.yaml"))
    st = cs.section(records.StageArrays)
    assert st.n_next is cs.n_next and st.calendar.shape == (5, cs.grid.days)
    pools = cs.section(records.PoolArrays)
    assert pools.pool_names == ("sdr", "ae")
    assert np.array_equal(pools.stage_pool, [-1, -1, 0, 1, 1])
