rule count_activations:
    """One shard of one language: count activations > 0 and sum them (one GPU job); also per part (stability)."""
    input:
        tokens=R.pattern("tokens", split="train"),
        model=model_json,
    output:
        stats=R.pattern("shard_stats"),
        parts=R.pattern("part_stats"),
    log:
        R.log("count_activations", "{model}/{lang}.{shard}"),
    benchmark:
        R.benchmark("count_activations", "{model}/{lang}.{shard}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("count_activations"),
    params:
        model=model_cfg,
        shards=SHARDS,
        parts=config["uncertainty"]["stability_parts"],
    script:
        "../scripts/count_activations.py"


rule merge_stats:
    """Sum the shards of one language (counts exactly; float sums to float32 rounding)."""
    input:
        shard_stats,
    output:
        R.pattern("stats"),
    log:
        R.log("merge_stats", "{model}/{lang}"),
    benchmark:
        R.benchmark("merge_stats", "{model}/{lang}")
    conda:
        "../../envs/langneurons.yaml"
    script:
        "../scripts/merge_stats.py"
