import os
import re

from langneurons.config import validate_config


validate_config(config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))

RESULTS = config["results"]
MODELS = list(config["models"])
LANGS = config["languages"]
SPLITS = ["train", "valid"]
METHODS = config["selection"]["methods"]
SHARDS = config["counting"]["shards"]
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


def model_cfg(wildcards):
    return config["models"][wildcards.model]


def seq_len(wildcards):
    return config["models"][wildcards.model]["seq_len"]


def token_budgets(wildcards):
    return {split: config["corpus"][f"{split}_tokens"] for split in SPLITS}


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


def gpus(wildcards):
    return config["models"][wildcards.model]["gpus"]


def mem_mb(wildcards):
    return config["models"][wildcards.model]["mem_mb"]


def runtime(wildcards):
    return config["models"][wildcards.model]["runtime"]


def all_targets():
    return expand(
        "{results}/{model}/neurons/{method}.{ext}",
        results=RESULTS,
        model=MODELS,
        method=METHODS,
        ext=["neuron.pth", "counts.csv"],
    )
