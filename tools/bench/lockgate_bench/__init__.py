"""``lockgate bench``: how fast and how lean the pipeline is, next to a floor and a hand-written baseline.

A tool of the source checkout, installed with the development dependency group and not part of the
runtime wheel. `runner.run_benchmark` (the paths) and `runner.run_sources` (``--sources N``: one run of
many small sources) are the entry points the ``lockgate bench`` command calls; `report` and
`report_sources` turn their figures into tables; `steps` and `memory` say where a flow run's time and
memory went; each path runs in a child process (``python -m lockgate_bench``). Nothing is imported
here, so the children load only what their path needs.
"""
