"""Start of every workflow script: log to the rule's log file, set threads, report bad input in one line."""

from __future__ import annotations

import logging
import os
import sys

from .errors import BadInput

# Bad input (files, config, model, API answers) ends in its one-line message, which says what to
# fix; anything else is a bug and keeps its traceback. LANGNEURONS_DEBUG=1 keeps every traceback.


def _one_line_errors(terminal, rule: str) -> None:
    default = sys.excepthook

    def report(kind, err, tb):
        if not issubclass(kind, BadInput) or os.environ.get("LANGNEURONS_DEBUG"):
            return default(kind, err, tb)
        line = f"error in rule {rule}: {' '.join(str(err).split()) or kind.__name__}"
        print(line, file=sys.stderr, flush=True)
        if terminal is not sys.stderr:  # the log file took stderr: say it where the user looks too
            print(line, file=terminal, flush=True)

    sys.excepthook = report


def start(snakemake) -> logging.Logger:
    """Send stderr (tqdm progress, warnings) and logging to ``snakemake.log[0]``; bad input ends in one line."""
    terminal = sys.stderr
    if snakemake.log:
        sys.stderr = open(snakemake.log[0], "w", buffering=1, encoding="utf-8")
    _one_line_errors(terminal, snakemake.rule)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s: %(message)s", force=True
    )
    if "torch" in sys.modules:  # rules that only move text never import it
        sys.modules["torch"].set_num_threads(max(1, int(snakemake.threads)))
    log = logging.getLogger(f"langneurons.rule.{snakemake.rule}")
    log.info("rule %s, wildcards %s, threads %s", snakemake.rule, dict(snakemake.wildcards), snakemake.threads)
    return log
