import os
import re

from langneurons.bundled import bundled_questions_file
from langneurons.config import (
    ppl_methods,
    split_work,
    steering_modes,
    sweep_stage,
    sweeps,
    validate_workflow_config,
)
from langneurons.methods import rates_of, stability_methods, statistics_methods
from langneurons.paths import PREPARED_MODEL, Results, fill
from langneurons.splitting import JOB_KEYS, jobs_of, runtime_minutes
from langneurons.tasks import task_methods, task_specs, uses_bundled

validate_workflow_config(config)

RESULTS = config["results"]
R = Results(RESULTS)  # every result path pattern: langneurons/paths.py
MODELS = list(config["models"])
LANGS = config["languages"]
SPLITS = ["train", "valid"]
METHODS = config["selection"]["methods"]
PPL_METHODS = ppl_methods(config)
GEN_METHODS = config["generation"]["methods"]
STEER_METHOD = config["steering"]["method"]
STEER_OUTPUTS = (
    (
        "steering_answers",
        "offtarget",
        "crosslingual",
        "offtarget_ci",
        "crosslingual_ci",
        "steering_confusion",
    )
    if STEER_METHOD
    else ()
)
SWEEP = sweeps(config)  # steering.sweep.strengths: the main steering uses the setting chosen per target
SWEEP_STAGE = sweep_stage(config)  # the sweep's points, or only the deactivation dose-response
SHARES = config["steering"]["sweep"]["shares"] if SWEEP_STAGE else []
SWEEP_OUTPUTS = ("sweep_answers", "sweep", "sweep_chosen", "sweep_deactivation") if SWEEP_STAGE else ()
STEER_MODES = steering_modes()

GEN_OUTPUTS = ("answers", "quality", "language_accuracy", "quality_ci", "language_accuracy_ci", "confusion")
SHARDS = config["counting"]["shards"]
# stability: the methods that select from statistics (random has no meaning, imported no statistics)
STABILITY_METHODS = [m for m in METHODS if m in stability_methods()]
NULL_DRAWS = config["uncertainty"]["null_draws"] if PPL_METHODS else 0
PV = config["selection"]["pv"]
TASK_METHODS = task_methods(config)
TASK_SPECS = task_specs(config)  # {task: {language, metric}}
TASK_CONDITIONS = config["tasks"]["conditions"]
# what the tasks jobs read of the tasks section and the uncertainty settings (tasks.jobs splits, not changes, them)
TASK_SETTINGS = {k: v for k, v in config["tasks"].items() if k not in ("methods", "batch_size", "bundled", "jobs")}
TASK_UNCERTAINTY = {k: config["uncertainty"][k] for k in ("bootstrap_samples", "confidence", "seed")}
BUNDLED_TASK_LANGS = uses_bundled(config)
GPU_THREADS = 8
# Jobs of each split stage (perplexity.jobs, uncertainty.null_jobs, generation.jobs, steering.jobs, judge.jobs):
# with 1 the stage's rule does the work; with more, `<rule>_part` jobs each do a slice and the rule merges them
# on this machine (langneurons/splitting.py).
JOBS = {stage: jobs_of(config, stage) for stage in JOB_KEYS}
# per model, every GPU stage's jobs and the work of the largest one: their wall times (runtime)
WORK = {model: {work.stage: work for work in split_work(config, model)} for model in MODELS}
MERGE_MEM_MB = 4000
MERGE_MINUTES = 30


wildcard_constraints:
    model="|".join(re.escape(m) for m in MODELS),
    lang="|".join(LANGS),
    split="train|valid",
    method="[a-z0-9_]+",
    shard=r"\d+",
    part=r"\d+",


localrules:
    prepare_model,
    corpus,
    merge_stats,
    import_neurons,
    compare_neurons,
    questions,


# Model settings that only say how a job runs, not what it computes: they are
# left out of the params (Snakemake's rerun trigger), so tuning them on a
# cluster redoes nothing already computed. Scripts read them from the config.
RUN_SETTINGS = ("batch_size", "device_map", "gpus", "mem_mb", "runtime", "throughput")
# The settings that decide which weights prepare_model writes.
PREPARE_SETTINGS = ("source", "path", "revision", "trust_remote_code", "random")


def model_cfg(wildcards):
    """The model settings that change a model job's results."""
    return {k: v for k, v in config["models"][wildcards.model].items() if k not in RUN_SETTINGS}


def model_spec(wildcards):
    return {k: v for k, v in config["models"][wildcards.model].items() if k in PREPARE_SETTINGS}


def seq_len(wildcards):
    return config["models"][wildcards.model]["seq_len"]


def token_budget(wildcards):
    return config["corpus"][f"{wildcards.split}_tokens"]


def corpus_source():
    """The corpus settings that change which documents are written (budgets only matter for Wikipedia)."""
    settings = dict(config["corpus"])
    settings.pop("min_tokens")  # a check in tokenize: changing it recomputes nothing
    if settings["source"] != "wikipedia":
        settings.pop("train_tokens")
        settings.pop("valid_tokens")
    return settings


def model_json(wildcards):
    return os.path.join(config["resources_dir"], fill(PREPARED_MODEL, model=wildcards.model))


def per_model(name, wildcards, **values):
    """Every file of result ``name`` for the job's model (lists in ``values`` expand)."""
    return expand(R.pattern(name, model=wildcards.model), **values)


def shard_stats(wildcards):
    return per_model("shard_stats", wildcards, lang=wildcards.lang, shard=range(SHARDS))


def part_stats(wildcards):
    """Every language's part statistics, language-major (all shards of the first language, then the next)."""
    return per_model("part_stats", wildcards, lang=LANGS, shard=range(SHARDS))


def language_stats(wildcards):
    return per_model("stats", wildcards, lang=LANGS)


def instruction_source():
    """The settings that decide which examples are written (valid_topics: which bundled topics stay out)."""
    keys = ("source", "examples", "seed") + (("dataset",) if PV["source"] == "dataset" else ())
    settings = {k: PV[k] for k in keys}
    if PV["source"] == "bundled":
        settings["valid_topics"] = config["corpus"]["valid_topics"]
    return settings


def pv_variations(wildcards):
    return per_model("pv_variation", wildcards, lang=LANGS)


def gpus(wildcards):
    return config["models"][wildcards.model]["gpus"]


def mem_mb(wildcards):
    return config["models"][wildcards.model]["mem_mb"]


def runtime(stage):
    """Minutes of a job of ``stage``: the model's ``runtime``, else from the job's work and ``throughput``."""

    def minutes(wildcards):
        settings = config["models"][wildcards.model]
        if settings["runtime"] is not None:
            return settings["runtime"]
        return runtime_minutes(WORK[wildcards.model][stage], settings["throughput"])

    return minutes


def split(stage, one_job, merge):
    """A setting of a split stage's rule: ``one_job`` when it does the work itself, else ``merge`` (its parts')."""
    return one_job if JOBS[stage] == 1 else merge


def part_files(name, stage, *wildcard_names):
    """The part files of ``stage`` to merge (none when it runs as one job). ``wildcard_names`` are the
    wildcards that the part files share with the merging job (the method of generate)."""

    def files(wildcards):
        if JOBS[stage] == 1:
            return []
        values = {key: getattr(wildcards, key) for key in wildcard_names}
        return per_model(name, wildcards, part=range(JOBS[stage]), **values)

    return files


def valid_tokens(wildcards):
    return per_model("tokens", wildcards, lang=LANGS, split="valid")


def ppl_neurons(wildcards):
    return per_model("neurons", wildcards, method=PPL_METHODS)


def method_tables(wildcards):
    return {
        "counts": per_model("neuron_counts", wildcards, method=METHODS),
        "overlap": per_model("neuron_overlap", wildcards, method=METHODS),
        "jaccard": per_model("neuron_jaccard", wildcards, method=METHODS),
        "ppl": per_model("ppl", wildcards, method=PPL_METHODS),
    }


def figures(model):
    return expand(R.pattern("model_figure", model=model), kind=["layers", "overlap"], method=METHODS) + expand(
        R.pattern("model_figure", model=model, kind="ppl"), method=PPL_METHODS
    )


def question_files(wildcards):
    return expand(R.pattern("questions"), lang=LANGS)


def steering_neurons(wildcards):
    return R.pattern("neurons", model=wildcards.model, method=STEER_METHOD)


def steering_settings():
    """The steering settings the main steering reads (the sweep's only through its chosen strengths)."""
    return {k: v for k, v in config["steering"].items() if k not in ("sweep", "sweep_jobs")}


def sweep_settings():
    """The steering settings the sweep reads: all but how the main steering and the sweep are split into jobs."""
    return {k: v for k, v in config["steering"].items() if k not in ("jobs", "sweep_jobs")}


def chosen_strengths(wildcards):
    """The setting the sweep chose per kind and target language, when the sweep runs."""
    return [R.pattern("sweep_chosen", model=wildcards.model)] if SWEEP else []


def sweep_question_files(wildcards):
    """The question set the sweep takes its last steering.sweep.questions from."""
    if config["steering"]["sweep"]["question_set"] == "bundled":
        return [str(bundled_questions_file(lang)) for lang in LANGS]
    return question_files(wildcards)


def steering_figures(model):
    """The sweep's curves per kind of steering, and the deactivation dose-response: {label: path}."""
    kinds = [
        kind
        for kind, on in (
            ("offtarget", config["steering"]["offtarget"]),
            ("crosslingual", config["steering"]["crosslingual_languages"]),
        )
        if on and SWEEP
    ]
    figures = {f"{kind} sweep": R.pattern("sweep_figure", model=model, kind=kind) for kind in kinds}
    if SHARES:
        figures["deactivation dose-response"] = R.pattern("deactivation_figure", model=model)
    return figures


def generated_answers(wildcards):
    return per_model("generated", wildcards, method=GEN_METHODS)


def steered_answers(wildcards):
    return [R.pattern("steered", model=wildcards.model)] if STEER_METHOD else []


def judge_gpus(wildcards):
    """Only the local judge runs a model."""
    return gpus(wildcards) if config["judge"]["backend"] == "local" else 0


def judge_api_slots(wildcards):
    """One slot of the `openai_api` resource per judging job: `--resources openai_api=N` caps parallel jobs."""
    return 1 if config["judge"]["backend"] == "openai" else 0


def task_random_neurons(wildcards):
    """The random neurons of the random condition (matched to each task's language)."""
    return [R.pattern("neurons", model=wildcards.model, method="random")] if "random" in TASK_CONDITIONS else []


def task_stats(wildcards):
    """The statistics whose mean activations the steered conditions set (only read when they run)."""
    return language_stats(wildcards) if "steered" in TASK_CONDITIONS else []


def bundled_task_files(wildcards):
    return per_model("bundled_task", wildcards, lang=BUNDLED_TASK_LANGS) + per_model(
        "bundled_task_data", wildcards, lang=BUNDLED_TASK_LANGS
    )


def task_steering():
    """The steering settings of the steered conditions (none when they do not run: changing them reruns nothing)."""
    return {k: config["steering"][k] for k in ("mode", "strength")} if "steered" in TASK_CONDITIONS else {}


def task_targets():
    names = ("task_table", "task_specificity", "task_samples", "task_harness", "task_figure")
    return [
        R.pattern(name, model=model, method=method) for name in names for model in MODELS for method in TASK_METHODS
    ]


def generation_targets():
    if not (GEN_METHODS or STEER_METHOD):
        return []
    return [
        R.pattern(name, model=model, method=method)
        for name in GEN_OUTPUTS
        for model in MODELS
        for method in GEN_METHODS
    ] + [R.pattern(name, model=model) for name in STEER_OUTPUTS + SWEEP_OUTPUTS for model in MODELS]


def sweep_targets():
    """The deactivation dose-response's perplexities and the figures of the sweep stage."""
    return (expand(R.pattern("ppl_deactivation"), model=MODELS) if SHARES else []) + [
        f for model in MODELS for f in steering_figures(model).values()
    ]


def uncertainty_targets():
    """Stability of the neuron sets, intervals of the PPL changes, the random null."""
    return (
        expand(R.pattern("stability"), model=MODELS, method=STABILITY_METHODS)
        + (expand(R.pattern("stability_figure"), model=MODELS) if STABILITY_METHODS else [])
        + expand(R.pattern("ppl_ci"), model=MODELS, method=PPL_METHODS)
        + (expand(R.pattern("ppl_null"), model=MODELS) if NULL_DRAWS else [])
    )


def comparison_targets():
    if not {"imported", "lape"} <= set(METHODS):
        return []
    return expand(R.pattern("imported_vs_lape"), model=MODELS)


def report_inputs(wildcards):
    """Everything the report reads."""
    return (
        all_targets()
        + expand(R.pattern("tokens"), model=MODELS, lang=LANGS, split=SPLITS)
        + expand(R.pattern("stats"), model=MODELS, lang=LANGS)
        + corpus_checks()
    )


def corpus_checks():
    """The language check of every language's corpus (per model for Wikipedia)."""
    if config["corpus"]["source"] == "wikipedia":
        return expand(R.pattern("wikipedia_corpus_check"), model=MODELS, lang=LANGS)
    return expand(R.pattern("corpus_check"), lang=LANGS)


def all_targets():
    neuron_files = ("neurons", "neuron_counts", "neuron_overlap", "neuron_jaccard")
    ppl_files = ("ppl", "ppl_delta", "ppl_specificity")
    return (
        [f for name in neuron_files for f in expand(R.pattern(name), model=MODELS, method=METHODS)]
        + [f for name in ppl_files for f in expand(R.pattern(name), model=MODELS, method=PPL_METHODS)]
        + expand(R.pattern("ses"), model=MODELS)
        + [f for model in MODELS for f in figures(model)]
        + [R.pattern("ses_figure")]
        + task_targets()
        + generation_targets()
        + sweep_targets()
        + comparison_targets()
        + uncertainty_targets()
    )
