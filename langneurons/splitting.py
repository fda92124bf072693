"""Splitting the model stages into jobs, and what each job costs.

Counting is split per language (``counting.shards``). Each later stage that runs the model is split by one
config key into jobs, each a fixed slice of the stage's work in the order one job does it:

=================  ===========================  ========================================================
stage (rule)       key                          the work, in order, that the jobs slice
=================  ===========================  ========================================================
perplexity         ``perplexity.jobs``          evaluations: each language with no neurons off, then per
                                                method each deactivated language on each language
perplexity_null    ``uncertainty.null_jobs``    blocks of ``NULL_BLOCK`` rows (a random draw on one valid
                                                sequence of its language) in the order they are batched
generate           ``generation.jobs``          batches of ``generation.batch_size`` prompts, per method
steer              ``steering.jobs``            batches of prompts: off-target, then cross-lingual
steer_sweep        ``steering.sweep_jobs``      batches of the sweep's prompts: the baselines, every point of
                                                both kinds, the deactivation dose-response
judge              ``judge.jobs``               local judge: batches of its likelihood passes; openai:
                                                the distinct answers
tasks              ``tasks.jobs``               conditions (normal, random, each language's neurons off,
                                                then on), every task under each, per method
=================  ===========================  ========================================================

``part_range`` cuts the work evenly into contiguous slices. A slice depends only on the amount of work
(never on a batch size a job picks from its GPU's free memory), so the jobs tile the work exactly, and
each job batches its slice as one job batches the whole: the merged files are those one job writes, byte
for byte (where ``batch_size`` is a number, as on a CPU; ``auto`` on GPUs with different free memory
changes the last bits, as between any two runs). With one job (the default) a stage runs as one job and
writes its files itself; with more, each ``*_part`` job writes a part file and the stage's rule merges
them on the machine Snakemake runs on.

The same work model gives each GPU job its wall time (``runtime``, from ``models.<name>.throughput``) and
``langneurons plan`` its table. Light on purpose (no torch): the config gate and Snakemake read it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Rows (a random draw on one valid sequence) per block of the null: its batches never cross a block.
NULL_BLOCK = 32
#: Minutes a GPU job is given beyond its work: loading the model, probing the batch size, writing.
LOAD_MINUTES = 10
#: Factor on a job's work time in its cluster wall time (``runtime``): throughput varies with the text.
RUNTIME_MARGIN = 1.5
#: Tokens per likelihood pass of the local judge (prompt with the question, and the first 32 answer tokens).
JUDGE_PASS_TOKENS = 128
#: Tokens per SES item (a question) when estimating the SES job.
SES_ITEM_TOKENS = 64
#: Forward-pass equivalents of one PV tuning step per token (forward, backward, the optimizer).
TUNING_COST = 3
# The tasks stage: forward tokens of one harness document (its choices scored one by one; a few hundred tokens
# of context each for the multiple-choice tasks of the field), and the documents assumed of a task whose size the
# config does not fix (tasks.limit null; most multilingual test sets have a few hundred to a few thousand).
TASK_DOCUMENT_TOKENS = 1024
TASK_DOCUMENTS_ASSUMED = 2000

#: The config key that splits each stage, as (section, key).
JOB_KEYS = {
    "perplexity": ("perplexity", "jobs"),
    "perplexity_null": ("uncertainty", "null_jobs"),
    "generate": ("generation", "jobs"),
    "steer": ("steering", "jobs"),
    "steer_sweep": ("steering", "sweep_jobs"),
    "judge": ("judge", "jobs"),
    "tasks": ("tasks", "jobs"),
}


def part_range(units: int, part: int, parts: int) -> range:
    """The units of job ``part`` of ``parts``: an even contiguous split (sizes differ by at most one)."""
    if not 0 <= part < parts:
        raise ValueError(f"part {part} is outside 0..{parts - 1}")
    return range(part * units // parts, (part + 1) * units // parts)


def jobs_of(cfg: dict, stage: str) -> int:
    """How many jobs ``stage`` (a rule name of ``JOB_KEYS``) runs in (per generation method for generate)."""
    section, key = JOB_KEYS[stage]
    return int(cfg[section][key])


def key_of(stage: str) -> str:
    return ".".join(JOB_KEYS[stage])


def draw_counts(setting: int | dict, methods: Sequence[str]) -> dict[str, int]:
    """Draws per method from ``uncertainty.null_draws``: an integer for every method, or ``{method: draws}``
    (a method not named gets no null); methods in ``methods`` order, those with no draws left out."""
    if isinstance(setting, dict):
        return {m: int(setting[m]) for m in methods if setting.get(m, 0) > 0}
    return {m: int(setting) for m in methods if setting > 0}


def generation_conditions(languages: Sequence[str]) -> int:
    """Conditions of the generation experiment: normal, random and each language's neurons off."""
    return 2 + len(languages)


def steering_items(cfg: dict, questions: dict[str, int]) -> tuple[int, int]:
    """Prompts of the steering experiment: (off-target, cross-lingual), as ``steering.run_steering`` makes them."""
    steering, languages = cfg["steering"], cfg["languages"]
    with_normal = not cfg["generation"]["methods"]  # else the generation experiment's normal answers serve
    offtarget = (1 + with_normal) * sum(questions[lang] for lang in languages) if steering["offtarget"] else 0
    cross = steering["crosslingual_languages"]
    crosslingual = len(cross) * sum(questions.get(lang, 0) for lang in cross) if len(cross) >= 2 else 0
    return offtarget, crosslingual


def batches(items: int, batch_size: int) -> int:
    return -(-items // batch_size)


@dataclass
class StageWork:
    """One stage of one model: its jobs and the work of the largest one."""

    stage: str  # the rule that does the work (one job) or its parts (``{stage}_part``)
    jobs: int  # jobs of the stage (all languages, methods, parts)
    units: int  # what its split key slices (per method for generate), 0 for unsplit stages
    unit: str  # what one unit is
    largest: int = 0  # units of the largest job
    tokens: float = 0.0  # forward tokens of the largest job
    decoded: float = 0.0  # new tokens of the largest job (an upper bound: answers stop early)
    answers: int = 0  # answers of the largest job (generation, steering, judge)
    gpus: int = 1  # GPUs per job
    key: str | None = None  # the config key that sets ``jobs`` (None: fixed by the stage)
    notes: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        """The largest job's share of its stage's work (of a method's, for generate)."""
        return self.largest / self.units if self.units else 1 / self.jobs

    def seconds(self, throughput: dict) -> float:
        """Seconds of work of the largest job at the model's ``throughput`` (without loading the model)."""
        return self.tokens / throughput["forward"] + self.decoded / throughput["decode"]


def valid_sequences(cfg: dict, model: str) -> int:
    """Valid sequences per language that the budget gives (a shorter corpus gives fewer)."""
    return max(1, math.ceil(cfg["corpus"]["valid_tokens"] / cfg["models"][model]["seq_len"]))


def null_evaluations(cfg: dict, methods: Sequence[str]) -> int:
    """Distinct random draws x languages of the null: ``random`` draws LAPE's sets (the same counts per layer),
    so it adds only draws beyond LAPE's (other methods share a set only when their counts happen to agree)."""
    counts = draw_counts(cfg["uncertainty"]["null_draws"], methods)
    distinct = sum(n for m, n in counts.items() if m != "random")
    if "random" in counts:
        distinct += max(0, counts["random"] - counts.get("lape", 0))
    return distinct * len(cfg["languages"])


def model_work(
    cfg: dict,
    model: str,
    ppl_methods: Sequence[str],
    questions: dict[str, int],
    task_methods: Sequence[str] = (),
    task_documents: dict[str, int | None] | None = None,
) -> list[StageWork]:
    """Every GPU stage of ``model`` under a validated config, in pipeline order.

    ``ppl_methods``: the methods of the perplexity matrices; ``questions``: questions per language that
    generation and steering ask (each language's set, cut at ``questions.max_questions``); ``task_methods``:
    the methods of the tasks stage, ``task_documents``: documents per harness task (None: not known).
    """
    languages, corpus, settings = cfg["languages"], cfg["corpus"], cfg["models"][model]
    n_lang, gpus = len(languages), settings["gpus"]
    out = []
    shards = cfg["counting"]["shards"]
    out.append(
        StageWork(
            "count_activations",
            n_lang * shards,
            0,
            "",
            tokens=corpus["train_tokens"] / shards,
            gpus=gpus,
            key="counting.shards",
            notes=[f"{shards} per language"],
        )
    )
    if "pv" in cfg["selection"]["methods"]:
        pv = cfg["selection"]["pv"]
        tuned = pv["steps"] * pv["batch_size"] * pv["seq_len"] * TUNING_COST
        out.append(StageWork("pv_tune", n_lang, 0, "", tokens=tuned, gpus=gpus, notes=["one per language"]))
    if ppl_methods:
        evaluations = n_lang * (1 + n_lang * len(ppl_methods))
        out.append(_split(cfg, "perplexity", evaluations, "evaluations", corpus["valid_tokens"], gpus))
        rows = null_evaluations(cfg, ppl_methods) * valid_sequences(cfg, model)
        if rows:
            row_tokens = min(corpus["valid_tokens"], settings["seq_len"])
            blocks = batches(rows, NULL_BLOCK)
            work = _split(cfg, "perplexity_null", blocks, f"blocks of {NULL_BLOCK} rows", 0, gpus)
            work.tokens = min(work.largest * NULL_BLOCK, rows) * row_tokens
            out.append(work)
    ses_items = n_lang * cfg["ses"]["max_items"]
    out.append(StageWork("ses", 1, 0, "", tokens=ses_items * SES_ITEM_TOKENS, gpus=gpus))
    gen, asked = cfg["generation"], sum(questions[lang] for lang in languages)
    max_new = gen["max_new_tokens"]
    answers = 0
    if gen["methods"]:
        items = generation_conditions(languages) * asked
        work = _split(cfg, "generate", batches(items, gen["batch_size"]), "batches", 0, gpus)
        work.answers = min(work.largest * gen["batch_size"], items)
        work.decoded = work.answers * max_new
        work.jobs *= len(gen["methods"])
        work.notes.append(f"{gen['jobs']} per method")
        out.append(work)
        answers += len(gen["methods"]) * (items + asked)  # the shuffled control: normal answers again
    if cfg["steering"]["method"]:
        offtarget, crosslingual = steering_items(cfg, questions)
        units = batches(offtarget + crosslingual, gen["batch_size"])  # both kinds fill the same batches
        work = _split(cfg, "steer", units, "batches", 0, gpus)
        work.answers = min(work.largest * gen["batch_size"], offtarget + crosslingual)
        work.decoded = work.answers * max_new
        out.append(work)
        answers += offtarget + crosslingual
    out += _sweep_work(cfg, gpus)
    if task_methods and task_documents:
        out.append(_tasks_work(cfg, task_methods, task_documents, gpus))
    if answers:
        backend = cfg["judge"]["backend"]
        work = _split(cfg, "judge", answers, "answers", 0, gpus if backend == "local" else 0)
        work.answers = work.largest
        if backend == "local":
            work.tokens = 2 * work.answers * JUDGE_PASS_TOKENS  # with and without the question
        else:
            work.notes.append(f"backend {backend}: no GPU")
        out.append(work)
    return out


def _sweep_work(cfg: dict, gpus: int) -> list[StageWork]:
    """The steering sweep's answers (every point, the baselines and the deactivation dose-response on
    ``sweep.questions`` held-out questions; split by ``steering.sweep_jobs``), their judging and the
    dose-response's perplexities (one job each)."""
    steering, languages = cfg["steering"], cfg["languages"]
    sweep = steering["sweep"]
    points = sum(len(values or ()) for values in (sweep["strengths"] or {}).values())
    shares = len(sweep["shares"] or ())
    if not steering["method"] or not (points or shares):
        return []
    n_lang, n_cross = len(languages), len(steering["crosslingual_languages"])
    groups = n_lang + n_lang * shares  # the unsteered baselines and the deactivation dose-response
    if points:
        groups += n_lang * points * steering["offtarget"] + n_cross + n_cross * (n_cross - 1) * points
    answers = groups * sweep["questions"]
    batch = cfg["generation"]["batch_size"]  # every group's rows fill the same batches
    work = _split(cfg, "steer_sweep", batches(answers, batch), "batches", 0, gpus)
    work.answers = min(work.largest * batch, answers)
    work.decoded = work.answers * cfg["generation"]["max_new_tokens"]
    out = [work]
    local = cfg["judge"]["backend"] == "local"
    out.append(
        StageWork(
            "judge_sweep", 1, 0, "", answers=answers, tokens=2 * answers * JUDGE_PASS_TOKENS * local, gpus=gpus * local
        )
    )
    if shares:
        evaluations = n_lang * (1 + shares)
        out.append(
            StageWork("deactivation_ppl", 1, 0, "", tokens=evaluations * cfg["corpus"]["valid_tokens"], gpus=gpus)
        )
    return out


def _tasks_work(cfg: dict, methods: Sequence[str], documents: dict[str, int | None], gpus: int) -> StageWork:
    """Per method, every task under every condition (normal, random, each language's neurons off or steered),
    the conditions split into ``tasks.jobs`` jobs."""
    kinds, n_lang = cfg["tasks"]["conditions"], len(cfg["languages"])
    conditions = 1 + ("random" in kinds) + n_lang * (("deactivated" in kinds) + ("steered" in kinds))
    unknown = [task for task, n in documents.items() if n is None]
    total = sum(TASK_DOCUMENTS_ASSUMED if n is None else n for n in documents.values())
    work = _split(cfg, "tasks", conditions, "conditions", total * TASK_DOCUMENT_TOKENS, gpus)
    work.jobs *= len(methods)
    work.notes.append(f"{cfg['tasks']['jobs']} per method")
    if unknown:
        work.notes.append(
            f"{len(unknown)} tasks of unknown size taken as {TASK_DOCUMENTS_ASSUMED} documents (tasks.limit)"
        )
    return work


def _split(cfg: dict, stage: str, units: int, unit: str, tokens_per_unit: float, gpus: int) -> StageWork:
    jobs = jobs_of(cfg, stage)
    largest = math.ceil(units / jobs)
    return StageWork(
        stage,
        jobs,
        units,
        unit,
        largest,
        tokens=largest * tokens_per_unit,
        gpus=gpus,
        key=key_of(stage),
    )


def runtime_minutes(work: StageWork, throughput: dict) -> int:
    """Wall time to ask for a job of ``work``: its work at ``throughput`` times the margin, plus loading."""
    return math.ceil(LOAD_MINUTES + RUNTIME_MARGIN * work.seconds(throughput) / 60)
