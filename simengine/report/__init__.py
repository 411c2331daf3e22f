"""The report: one self-contained HTML page of a result, for the people who approve budgets.

- :mod:`~simengine.report.document`: the page of a result (:func:`render`) and writing it
  (:func:`write_report`, also ``simengine.write_report``);
- :mod:`~simengine.report.sections`: what the page says, section by section;
- :mod:`~simengine.report.words`: numbers and assumptions in words;
- :mod:`~simengine.report.figures`: the figures as inline SVG;
- :mod:`~simengine.report.page`: the HTML template and its styles.

>>> import simengine as se
>>> ds = se.simulate("scenarios/baseline.yaml", draws=40, seed=1, progress=False)
>>> path = se.write_report(ds, "/tmp/simengine-doctest-report.html")
>>> path.read_text().startswith("<!DOCTYPE html>")
True
"""
