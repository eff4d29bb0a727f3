"""Shared CLI plumbing: consoles, logging, progress bars, input checks."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from krel_interp.errors import InputFileError, KrelError

console = Console()
err_console = Console(stderr=True)


def setup_logging(verbose: bool = False) -> None:
    """Rich logging for the ``krel_interp`` logger; quiet third-party libraries."""
    from rich.logging import RichHandler

    logger = logging.getLogger("krel_interp")
    logger.handlers = [RichHandler(console=err_console, show_path=False)]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    with contextlib.suppress(ImportError):
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()


def require_file(path: Path, what: str = "file") -> Path:
    """A one-line error when an input path is missing."""
    if not path.exists():
        raise InputFileError(f"{what} not found: {path}")
    return path


@contextlib.contextmanager
def progress_bar(description: str, total: int) -> Iterator[Any]:
    """A rich progress bar; yields a callback ``advance(n)``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def split_csv(value: str | None) -> tuple[str, ...] | None:
    """``"a,b"`` -> ``("a", "b")``; empty -> None."""
    if not value:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())


def cache_dir_for_run(path: Path, overwrite: bool) -> Path:
    """A resumable work directory; ``overwrite`` deletes what an earlier run left there."""
    if overwrite and path.exists():
        shutil.rmtree(path)
    return path


def run_script(main: Callable[[], None]) -> None:
    """Run an experiment script's ``main`` with the CLI's error contract.

    Bad input or an incompatible artifact prints one ``error:`` line and exits with 2;
    Ctrl-C exits with 130 and a hint that re-running resumes.
    """
    try:
        main()
    except KrelError as exc:
        print_error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        print_error(INTERRUPTED, prefix="")
        sys.exit(130)


INTERRUPTED = "interrupted: re-run the same command (without --overwrite) to resume"


def print_error(message: str, prefix: str = "error: ") -> None:
    """One line on stderr, never wrapped (rich wraps at 80 columns when not on a terminal)."""
    err_console.print(f"{prefix}{message}", markup=False, highlight=False, soft_wrap=True)
