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


def valid_tokens(wildcards):
    return expand("{results}/{model}/tokens/{lang}.valid.pt", results=RESULTS, model=wildcards.model, lang=LANGS)


def ppl_neurons(wildcards):
    return expand("{results}/{model}/neurons/{method}.neuron.pth", results=RESULTS, model=wildcards.model,
                  method=PPL_METHODS)


def method_tables(wildcards):
    return {
        "counts": expand("{results}/{model}/neurons/{method}.counts.csv", results=RESULTS,
                         model=wildcards.model, method=METHODS),
        "overlap": expand("{results}/{model}/neurons/{method}.overlap.csv", results=RESULTS,
                          model=wildcards.model, method=METHODS),
        "jaccard": expand("{results}/{model}/neurons/{method}.jaccard.csv", results=RESULTS,
                          model=wildcards.model, method=METHODS),
        "ppl": expand("{results}/{model}/ppl/{method}.csv", results=RESULTS, model=wildcards.model,
                      method=PPL_METHODS),
    }


def figure_dir(wildcards):
    return os.path.join(RESULTS, wildcards.model, "figures")


def figures(model):
    return expand("{results}/{model}/figures/{kind}_{method}.png", results=RESULTS, model=model,
                  kind=["layers", "overlap"], method=METHODS) + expand(
        "{results}/{model}/figures/ppl_{method}.png", results=RESULTS, model=model, method=PPL_METHODS
    )


def all_targets():
    return (
        expand("{results}/{model}/neurons/{method}.{ext}", results=RESULTS, model=MODELS, method=METHODS,
               ext=["neuron.pth", "counts.csv", "overlap.csv", "jaccard.csv"])
        + expand("{results}/{model}/ppl/{method}{ext}", results=RESULTS, model=MODELS, method=PPL_METHODS,
                 ext=[".csv", ".delta.csv", ".specificity.csv"])
        + expand("{results}/{model}/ses.csv", results=RESULTS, model=MODELS)
        + [f for model in MODELS for f in figures(model)]
        + [os.path.join(RESULTS, "figures", "ses.png")]
    )
