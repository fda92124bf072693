"""Where every result lives: one table of path patterns, read by the rules and the report.

Patterns are relative to the results folder (``config["results"]``) and use
Snakemake's wildcard syntax. ``Results.pattern`` fills in some wildcards and
keeps the others (for rule inputs and outputs); ``Results.path`` fills them all
(for code that reads a finished file).
"""

from __future__ import annotations

import string
from pathlib import Path

RESULT_PATTERNS = {
    # corpus and tokens
    "corpus": "corpus/{lang}.{split}.jsonl",
    "wikipedia_corpus": "{model}/corpus/{lang}.{split}.jsonl",  # Wikipedia: budgets in the model's tokens
    "corpus_check": "corpus/{lang}.language_check.json",  # paragraphs identified: kept, dropped, examples
    "wikipedia_corpus_check": "{model}/corpus/{lang}.language_check.json",
    "questions": "questions/{lang}.jsonl",
    "instructions": "instructions/{lang}.jsonl",
    "tokens": "{model}/tokens/{lang}.{split}.pt",
    # activation statistics
    "shard_stats": "{model}/stats/shards/{lang}.{shard}.pt",
    "stats": "{model}/stats/{lang}.pt",
    "part_stats": "{model}/stats/parts/{lang}.{shard}.pt",
    # neuron sets
    "neurons": "{model}/neurons/{method}.neuron.pth",
    "neuron_counts": "{model}/neurons/{method}.counts.csv",
    "neuron_overlap": "{model}/neurons/{method}.overlap.csv",
    "neuron_jaccard": "{model}/neurons/{method}.jaccard.csv",
    "imported_vs_lape": "{model}/neurons/imported_vs_lape.csv",
    "pv_variation": "{model}/pv/{lang}.pt",
    "stability": "{model}/neurons/{method}.stability.csv",
    # perplexity under deactivation
    "ppl": "{model}/ppl/{method}.csv",
    "ppl_delta": "{model}/ppl/{method}.delta.csv",
    "ppl_specificity": "{model}/ppl/{method}.specificity.csv",
    "ppl_nll": "{model}/ppl/{method}.nll.pt",
    "ppl_ci": "{model}/ppl/{method}.ci.csv",
    "ppl_null": "{model}/ppl/null.csv",
    "ppl_deactivation": "{model}/ppl/deactivation.csv",  # own-language PPL as more of its neurons are off
    # the parts of split stages (perplexity.jobs, uncertainty.null_jobs, ...), merged into the files above/below
    "ppl_part": "{model}/ppl/parts/{part}.pt",
    "null_part": "{model}/ppl/null_parts/{part}.pt",
    # downstream tasks (lm-evaluation-harness) under every condition
    "bundled_task_data": "{model}/tasks/bundled/{lang}.jsonl",  # the bundled offline task's items (per tokenizer)
    "bundled_task": "{model}/tasks/bundled/langneurons_next_word_{lang}.yaml",  # its harness YAML
    "task_table": "{model}/tasks/{method}.csv",  # conditions x tasks x metrics, change from normal, intervals
    "task_specificity": "{model}/tasks/{method}.specificity.csv",
    "task_samples": "{model}/tasks/{method}.samples.jsonl.gz",  # the harness's per-sample logs
    "task_harness": "{model}/tasks/{method}.harness.json",  # the harness's results, configs and versions
    "task_figure": "{model}/figures/tasks_{method}.png",  # heat map of the change from normal
    "task_part": "{model}/tasks/parts/{method}.{part}.pkl",  # tasks.jobs: a share of the conditions' harness runs
    # sentence embedding similarity
    "ses": "{model}/ses.csv",
    # figures
    "model_figure": "{model}/figures/{kind}_{method}.png",
    "ses_figure": "figures/ses.png",
    "stability_figure": "{model}/figures/stability.png",
    "sweep_figure": "{model}/figures/sweep_{kind}.png",  # kind: offtarget or crosslingual
    "deactivation_figure": "{model}/figures/deactivation.png",
    # generation under deactivation
    "generated": "{model}/generation/{method}.raw.jsonl",
    "generated_part": "{model}/generation/parts/{method}.{part}.jsonl",
    "answers": "{model}/generation/{method}.answers.jsonl",
    "quality": "{model}/generation/{method}.quality.csv",
    "quality_control": "{model}/generation/{method}.quality_control.csv",
    "language_accuracy": "{model}/generation/{method}.language_accuracy.csv",
    "quality_ci": "{model}/generation/{method}.quality.ci.csv",
    "language_accuracy_ci": "{model}/generation/{method}.language_accuracy.ci.csv",
    "confusion": "{model}/generation/{method}.confusion.csv",  # accuracy, LPR, WPR, LCPR with intervals
    # steering
    "steered": "{model}/steering/raw.jsonl",
    "steered_part": "{model}/steering/parts/{part}.jsonl",
    "steering_answers": "{model}/steering/answers.jsonl",
    "offtarget": "{model}/steering/offtarget.csv",
    "crosslingual": "{model}/steering/crosslingual.csv",
    "offtarget_ci": "{model}/steering/offtarget.ci.csv",
    "crosslingual_ci": "{model}/steering/crosslingual.ci.csv",
    "steering_confusion": "{model}/steering/confusion.csv",
    # how strongly to steer: the sweep (held-out questions), the chosen setting, the deactivation dose-response
    "sweep_raw": "{model}/steering/sweep.raw.jsonl",
    "sweep_raw_part": "{model}/steering/sweep_parts/{part}.jsonl",
    "sweep_answers": "{model}/steering/sweep.answers.jsonl",
    "sweep": "{model}/steering/sweep.csv",
    "sweep_chosen": "{model}/steering/chosen.csv",
    "sweep_deactivation": "{model}/steering/deactivation.csv",
    # judging and the report
    "judge_cache": "judge_cache",
    "judge_part": "{model}/judge/parts/{part}.json",
    "report": "report/index.html",
}

#: The prepared model's description, relative to ``config["resources_dir"]``.
PREPARED_MODEL = "models/{model}/model.json"


def fill(pattern: str, **values) -> str:
    """Fill the named wildcards of ``pattern``, keep the others as ``{name}``."""
    parts = []
    for literal, field, _spec, _conversion in string.Formatter().parse(pattern):
        parts.append(literal)
        if field is not None:
            parts.append(str(values[field]) if field in values else "{" + field + "}")
    return "".join(parts)


class Results:
    """The results folder of one run."""

    def __init__(self, root: str | Path):
        self.root = str(root)

    def pattern(self, name: str, **values) -> str:
        """A path pattern with the given wildcards filled in and the rest kept (for rules)."""
        return fill(f"{self.root}/{RESULT_PATTERNS[name]}", **values)

    def path(self, name: str, **values) -> Path:
        """The path of one finished file: every wildcard must be given."""
        pattern = RESULT_PATTERNS[name]
        missing = {field for _, field, _, _ in string.Formatter().parse(pattern) if field} - set(values)
        if missing:
            raise KeyError(f"result path {name!r} needs {sorted(missing)}")
        return Path(self.root) / pattern.format(**values)

    def log(self, rule: str, job: str = "") -> str:
        """The log file of a rule's job (``job`` names it, with wildcards, e.g. ``{model}/{lang}``)."""
        return f"{self.root}/logs/{rule}/{job}.log" if job else f"{self.root}/logs/{rule}.log"

    def benchmark(self, rule: str, job: str = "") -> str:
        """Snakemake's benchmark file of a rule's job: wall time and peak memory, read by the report."""
        return f"{self.root}/benchmarks/{rule}/{job}.tsv" if job else f"{self.root}/benchmarks/{rule}.tsv"

    @property
    def benchmarks(self) -> Path:
        return Path(self.root) / "benchmarks"
