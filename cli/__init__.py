"""The ``lockgate`` command line: thin Typer commands over the flows and libraries below it.

Each module holds one command group; commands read their arguments, call one function of the core and
hand its result to `cli.output.write`. Nothing outside this package imports it.
"""
