"""Lines printed during a search (``verbose=2``), kept off the progress bar.

skorch's epoch table is printed line by line through a sink callable
(``PrintLog(sink=...)``); :func:`write_line` is that sink for the trials'
and refits' nets, and the progress callbacks print their trial headers
through it too. It writes above the progress bar (``tqdm.write`` clears the
bar, prints, and draws the bar again), and drops skorch's ANSI colour codes
unless standard output is a terminal (a notebook, a log file or a pipe
would show them as ``[36m`` garbage) or ``NO_COLOR`` is set.
"""

from __future__ import annotations

import os
import re
import sys

#: ANSI "select graphic rendition" sequences: skorch's colours and resets
_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def use_colour(stream=None):
    """Whether ``stream`` (default: standard output) shows ANSI colours.

    True only for a terminal, and never when the ``NO_COLOR`` environment
    variable is set (https://no-color.org).
    """
    stream = sys.stdout if stream is None else stream
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def strip_colour(text):
    """``text`` without ANSI colour codes."""
    return _ANSI_COLOUR.sub("", text)


def write_line(text):
    """Print ``text`` on its own line(s) of standard output, above any
    progress bar; colour codes only on a terminal.

    A module-level function: nets that carry it as their log sink pickle.
    """
    from tqdm import tqdm

    stream = sys.stdout
    tqdm.write(text if use_colour(stream) else strip_colour(text), file=stream)
