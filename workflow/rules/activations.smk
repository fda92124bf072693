rule count_activations:
    """One shard of one language: count activations > 0 and sum them (one GPU job); also per part (stability)."""
    input:
        tokens=os.path.join(RESULTS, "{model}", "tokens", "{lang}.train.pt"),
        model=model_json,
    output:
        stats=os.path.join(RESULTS, "{model}", "stats", "shards", "{lang}.{shard}.pt"),
        parts=os.path.join(RESULTS, "{model}", "stats", "parts", "{lang}.{shard}.pt"),
    log:
        os.path.join(RESULTS, "logs", "count_activations", "{model}", "{lang}.{shard}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "count_activations", "{model}", "{lang}.{shard}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime,
    params:
        model=model_cfg,
        shards=SHARDS,
        parts=config["uncertainty"]["stability_parts"],
    script:
        "../scripts/count_activations.py"


rule merge_stats:
    """Sum the shards of one language (exact)."""
    input:
        shard_stats,
    output:
        os.path.join(RESULTS, "{model}", "stats", "{lang}.pt"),
    log:
        os.path.join(RESULTS, "logs", "merge_stats", "{model}", "{lang}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "merge_stats", "{model}", "{lang}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    script:
        "../scripts/merge_stats.py"
