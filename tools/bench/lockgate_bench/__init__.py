"""``lockgate bench``: how fast and how lean the pipeline is, next to a floor and a hand-written baseline.

A tool of the source checkout, installed with the development dependency group and not part of the
runtime wheel. `runner.run_benchmark` is the one entry point (the ``lockgate bench`` command calls it);
`report` turns its figures into a table; each path runs in a child process (``python -m lockgate_bench``).
Nothing is imported here, so the children load only what their path needs.
"""
