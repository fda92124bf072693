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


def job_part(snakemake) -> tuple[int, int]:
    """The share of a split stage this job computes, as (part, parts): its own in a ``*_part`` rule, (0, 1) in the
    stage's rule when the stage runs as one job."""
    if snakemake.rule.endswith("_part"):
        return int(snakemake.wildcards.part), snakemake.params.jobs
    return 0, 1


def joins_parts(snakemake) -> bool:
    """Whether this job is a split stage's own rule with its ``*_part`` jobs' files (input ``parts``) to merge."""
    return not snakemake.rule.endswith("_part") and bool(snakemake.input.parts)
