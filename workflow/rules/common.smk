import os
import re

from langneurons.config import validate_config

validate_config(config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))

RESULTS = config["results"]
MODELS = list(config["models"])
LANGS = config["languages"]
SPLITS = ["train", "valid"]
METHODS = config["selection"]["methods"]
PPL_METHODS = config["perplexity"]["methods"] or METHODS
GEN_METHODS = config["generation"]["methods"]
STEER_METHOD = config["steering"]["method"]
STEER_OUTPUTS = (
    [os.path.join(RESULTS, "{model}", "steering", f) for f in ("answers.jsonl", "offtarget.csv", "crosslingual.csv")]
    if STEER_METHOD
    else []
)

if config["judge"]["backend"] == "openai":

    # the API key reaches jobs (also on a cluster) through the environment only
    envvars:
        config["judge"]["api_key_env"],


SHARDS = config["counting"]["shards"]
PV = config["selection"]["pv"]
GPU_THREADS = 8


wildcard_constraints:
    model="|".join(re.escape(m) for m in MODELS),
    lang="|".join(LANGS),
    split="train|valid",
    method="[a-z0-9_]+",
    shard=r"\d+",


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
RUN_SETTINGS = ("batch_size", "device_map", "gpus", "mem_mb", "runtime")
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
    if settings["source"] != "wikipedia":
        settings.pop("train_tokens")
        settings.pop("valid_tokens")
    return settings


def model_dir(wildcards):
    return os.path.join(config["resources_dir"], "models", wildcards.model)


def model_json(wildcards):
    return os.path.join(model_dir(wildcards), "model.json")


def shard_stats(wildcards):
    return expand(
        "{results}/{model}/stats/shards/{lang}.{shard}.pt",
        results=RESULTS,
        model=wildcards.model,
        lang=wildcards.lang,
        shard=range(SHARDS),
    )


def language_stats(wildcards):
    return expand("{results}/{model}/stats/{lang}.pt", results=RESULTS, model=wildcards.model, lang=LANGS)


def instruction_source():
    """The settings that decide which examples are written (valid_topics: which bundled topics stay out)."""
    keys = ("source", "examples", "seed") + (("dataset",) if PV["source"] == "dataset" else ())
    settings = {k: PV[k] for k in keys}
    if PV["source"] == "bundled":
        settings["valid_topics"] = config["corpus"]["valid_topics"]
    return settings


def pv_variations(wildcards):
    return expand("{results}/{model}/pv/{lang}.pt", results=RESULTS, model=wildcards.model, lang=LANGS)


def gpus(wildcards):
    return config["models"][wildcards.model]["gpus"]


def mem_mb(wildcards):
    return config["models"][wildcards.model]["mem_mb"]


def runtime(wildcards):
    return config["models"][wildcards.model]["runtime"]


def valid_tokens(wildcards):
    return expand("{results}/{model}/tokens/{lang}.valid.pt", results=RESULTS, model=wildcards.model, lang=LANGS)


def ppl_neurons(wildcards):
    return expand(
        "{results}/{model}/neurons/{method}.neuron.pth", results=RESULTS, model=wildcards.model, method=PPL_METHODS
    )


def method_tables(wildcards):
    return {
        "counts": expand(
            "{results}/{model}/neurons/{method}.counts.csv", results=RESULTS, model=wildcards.model, method=METHODS
        ),
        "overlap": expand(
            "{results}/{model}/neurons/{method}.overlap.csv", results=RESULTS, model=wildcards.model, method=METHODS
        ),
        "jaccard": expand(
            "{results}/{model}/neurons/{method}.jaccard.csv", results=RESULTS, model=wildcards.model, method=METHODS
        ),
        "ppl": expand("{results}/{model}/ppl/{method}.csv", results=RESULTS, model=wildcards.model, method=PPL_METHODS),
    }


def figure_dir(wildcards):
    return os.path.join(RESULTS, wildcards.model, "figures")


def figures(model):
    return expand(
        "{results}/{model}/figures/{kind}_{method}.png",
        results=RESULTS,
        model=model,
        kind=["layers", "overlap"],
        method=METHODS,
    ) + expand("{results}/{model}/figures/ppl_{method}.png", results=RESULTS, model=model, method=PPL_METHODS)


def question_files(wildcards):
    return expand("{results}/questions/{lang}.jsonl", results=RESULTS, lang=LANGS)


def steering_neurons(wildcards):
    return os.path.join(RESULTS, wildcards.model, "neurons", f"{STEER_METHOD}.neuron.pth")


def generated_answers(wildcards):
    return expand(
        "{results}/{model}/generation/{method}.raw.jsonl", results=RESULTS, model=wildcards.model, method=GEN_METHODS
    )


def steered_answers(wildcards):
    return [os.path.join(RESULTS, wildcards.model, "steering", "raw.jsonl")] if STEER_METHOD else []


def judge_gpus(wildcards):
    """Only the local judge runs a model."""
    return gpus(wildcards) if config["judge"]["backend"] == "local" else 0


def judge_api_slots(wildcards):
    """One slot of the `openai_api` resource per judging job: `--resources openai_api=N` caps parallel jobs."""
    return 1 if config["judge"]["backend"] == "openai" else 0


def generation_targets():
    if not (GEN_METHODS or STEER_METHOD):
        return []
    return expand(
        "{results}/{model}/generation/{method}.{ext}",
        results=RESULTS,
        model=MODELS,
        method=GEN_METHODS,
        ext=["answers.jsonl", "quality.csv", "language_accuracy.csv"],
    ) + [f.format(model=m) for m in MODELS for f in STEER_OUTPUTS]


def comparison_targets():
    if not {"imported", "lape"} <= set(METHODS):
        return []
    return expand("{results}/{model}/neurons/imported_vs_lape.csv", results=RESULTS, model=MODELS)


def report_inputs(wildcards):
    """Everything the report reads."""
    return (
        all_targets()
        + expand("{results}/{model}/tokens/{lang}.{split}.pt", results=RESULTS, model=MODELS, lang=LANGS, split=SPLITS)
        + expand("{results}/{model}/stats/{lang}.pt", results=RESULTS, model=MODELS, lang=LANGS)
    )


def all_targets():
    return (
        expand(
            "{results}/{model}/neurons/{method}.{ext}",
            results=RESULTS,
            model=MODELS,
            method=METHODS,
            ext=["neuron.pth", "counts.csv", "overlap.csv", "jaccard.csv"],
        )
        + expand(
            "{results}/{model}/ppl/{method}{ext}",
            results=RESULTS,
            model=MODELS,
            method=PPL_METHODS,
            ext=[".csv", ".delta.csv", ".specificity.csv"],
        )
        + expand("{results}/{model}/ses.csv", results=RESULTS, model=MODELS)
        + [f for model in MODELS for f in figures(model)]
        + [os.path.join(RESULTS, "figures", "ses.png")]
        + generation_targets()
        + comparison_targets()
    )
