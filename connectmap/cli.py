"""The ``connectmap`` command line: thin commands over the library functions.

A :class:`~connectmap.errors.ConnectmapError` (a user mistake) prints one line naming the file, the column or row
and what to do, and exits with status 2 and no traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from connectmap import __version__
from connectmap.errors import ConnectmapError

app = typer.Typer(
    name="connectmap",
    help="Map which schools are connected, cost connecting each one and zero-rating learning content, "
    "and build offline maps and live Excel investment cases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Write and check configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")

log = logging.getLogger("connectmap")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"connectmap {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step in detail.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors; no progress bars.")] = False,
) -> None:
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    logging.getLogger("connectmap").setLevel(level)
    from connectmap import progress

    progress.configure(enabled=not quiet)


def parse_mapping(items: list[str] | None, option: str) -> dict[str, str]:
    """Parse repeated ``KEY=VALUE`` options (values may contain ``=``) into a dict."""
    mapping: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConnectmapError(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} school_name='Nom école'")
        mapping[key.strip()] = value.strip()
    return mapping


# --- config -------------------------------------------------------------------------------------------------------
@config_app.command("init")
def config_init(
    file: Annotated[Path, typer.Argument(help="Config file to write (TOML).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the documented default configuration to FILE."""
    from connectmap.config import default_config_text
    from connectmap.report.files import write_text

    if file.exists() and not force:
        raise ConnectmapError(f"{file}: already exists; pass --force to overwrite it")
    write_text(file, default_config_text())
    typer.echo(f"wrote {file}")


@config_app.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="Config file to check.")]) -> None:
    """Check FILE: every unknown key and wrong value is reported with its key path."""
    from connectmap.config import load_config

    load_config(file)
    typer.echo(f"{file}: valid")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user mistakes print one line and return 2 instead of raising."""
    try:
        app(args=argv, standalone_mode=False)
    except ConnectmapError as err:
        typer.echo(f"error: {err}", err=True)
        return err.exit_code
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as err:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(err, click.ClickException):
            err.show()
            return err.exit_code
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
