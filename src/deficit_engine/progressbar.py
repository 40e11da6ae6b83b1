"""Progress bars for long commands: count, rate and ETA on a terminal, silence elsewhere.

A :class:`Progress` is made once per command by the command line, which decides
whether it shows (:func:`wanted`: a terminal on stderr and no ``--quiet``, or
forced); the code that does the work only calls :meth:`Progress.track` (a loop
it owns) or :meth:`Progress.counter` (events it is told of, such as pytest's
hooks), which cost nothing when the bar is off. The bars are tqdm's, written to
stderr so that stdout stays what the command prints.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["Counter", "Progress", "wanted"]

T = TypeVar("T")

#: Seconds between redraws: often enough to look alive, rarely enough to cost nothing.
REFRESH_SECONDS = 0.5


def wanted(stream: TextIO | None = None, *, quiet: bool = False, force: bool = False) -> bool:
    """Whether a command shows progress bars.

    Parameters
    ----------
    stream : TextIO, optional
        Where the bars would go (default: ``sys.stderr``).
    quiet : bool
        The user asked for silence (``--quiet``): no bars, even when forced.
    force : bool
        The user asked for bars (``--progress``) even when ``stream`` is not a terminal.

    Returns
    -------
    bool
        True when bars should be drawn: not quiet, and forced or ``stream`` is a terminal.
    """
    if quiet:
        return False
    if force:
        return True
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


class Progress:
    """Progress bars of one command, on or off.

    Parameters
    ----------
    enabled : bool
        Draw the bars (see :func:`wanted`); when False every method is a pass-through.
    stream : TextIO, optional
        Where to draw them (default: ``sys.stderr`` at the time a bar starts).
    """

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream

    @classmethod
    def off(cls) -> Progress:
        """A Progress that draws nothing (what library callers get by default).

        Returns
        -------
        Progress
            A disabled Progress.
        """
        return cls(False)

    def track(
        self, items: Iterable[T], label: str, total: int | None = None, unit: str = "profile"
    ) -> Iterator[T]:
        """Yield ``items`` unchanged, advancing a bar by one per item.

        Parameters
        ----------
        items : iterable
            What is being worked through (consumed lazily).
        label : str
            The bar's label (``diagnose``, ``routes``...).
        total : int, optional
            How many items are expected, for the percentage and ETA; may be an
            estimate (the bar is closed at the true count). None: count and rate only.
        unit : str
            What one item is, for the rate (``profile/s``).

        Yields
        ------
        object
            Each item of ``items``, in order.
        """
        if not self.enabled:
            yield from items
            return
        with self.counter(label, total, unit) as count:
            for item in items:
                yield item
                count.advance()

    @contextmanager
    def counter(
        self, label: str, total: int | None = None, unit: str = "profile"
    ) -> Iterator[Counter]:
        """A bar advanced by hand, for work that reports its steps (callbacks, hooks).

        The bar is closed on leaving the block, at the true count when ``total``
        was an estimate or unknown.

        Parameters
        ----------
        label : str
            The bar's label (``scenarios``...).
        total : int, optional
            How many steps are expected; None: unknown for now (see
            :meth:`Counter.expect`).
        unit : str
            What one step is, for the rate (``scenario/s``).

        Yields
        ------
        Counter
            Advance it once per step; a no-op when this Progress is off.
        """
        if not self.enabled:
            yield Counter(None)
            return
        from tqdm import tqdm  # here: a disabled Progress need not import it

        bar = tqdm(
            total=total,
            desc=label,
            unit=unit,
            file=self.stream if self.stream is not None else sys.stderr,
            mininterval=REFRESH_SECONDS,
            dynamic_ncols=True,
            leave=True,
        )
        try:
            yield Counter(bar)
            if bar.total != bar.n:  # the total was an estimate: end at the true count
                bar.total = bar.n
                bar.refresh()
        finally:
            bar.close()


class Counter:
    """One bar of :meth:`Progress.counter`, or nothing when progress is off.

    Parameters
    ----------
    bar : tqdm, optional
        The bar drawn; None: every method does nothing.
    """

    def __init__(self, bar: tqdm[Any] | None) -> None:
        self._bar = bar

    def expect(self, total: int) -> None:
        """Set how many steps there will be, once it is known (for the percentage and ETA).

        Parameters
        ----------
        total : int
            The number of steps of the whole run, those already done included.
        """
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def advance(self, steps: int = 1) -> None:
        """Count ``steps`` more steps done.

        Parameters
        ----------
        steps : int
            How many (default one).
        """
        if self._bar is not None:
            self._bar.update(steps)
