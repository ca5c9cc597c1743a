"""``lockgate docs serve``: the lake's Data Docs site over HTTP on this machine, read-only, so the links
runs leave in Prefect's UI open in a browser (``file://`` and ``s3://`` links do not)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.errors import exit_with_error
from cli.options import DEFAULT_LAKE, FormatOption, LakeOption
from cli.output import OutputFormat, write

DEFAULT_PORT = 8765  # storage.docs_server's; spelled here so `lockgate --help` imports no library

docs_app = typer.Typer(help="The lake's Great Expectations Data Docs site.", no_args_is_help=True)


@docs_app.command()
def serve(
    lake: LakeOption = DEFAULT_LAKE,
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port (0: any free one).")] = (
        DEFAULT_PORT
    ),
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; the default serves this machine only.")
    ] = "127.0.0.1",
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Serve the lake's Data Docs site (local folder or S3) until Ctrl-C; run links point here
    (or at LOCKGATE_DOCS_URL)."""
    from flows.docs import serve_docs

    try:
        server = serve_docs(lake, host=host, port=port)
    except OSError as exc:
        exit_with_error(f"cannot serve Data Docs on {host}:{port}: {exc.strerror or exc}")
    bound_host, bound_port = server.server_address[:2]
    url = f"http://{bound_host!s}:{bound_port}/"
    write(
        {"lake": lake, "url": url},
        lambda shown: [f"Data Docs of {shown['lake']} at {shown['url']} (Ctrl-C stops)"],
        output,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
