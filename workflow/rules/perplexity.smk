rule perplexity_part:
    """One of perplexity.jobs even shares of the evaluations (one GPU job): their per-block NLL."""
    input:
        model=model_json,
        valid=valid_tokens,
        neurons=ppl_neurons,
    output:
        R.pattern("ppl_part"),
    log:
        R.log("perplexity_part", "{model}/{part}"),
    benchmark:
        R.benchmark("perplexity_part", "{model}/{part}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("perplexity"),
    params:
        model=model_cfg,
        methods=PPL_METHODS,
        languages=LANGS,
        block=config["uncertainty"]["block_tokens"],
        jobs=JOBS["perplexity"],
    script:
        "../scripts/perplexity.py"


rule perplexity:
    """PPL of every language's valid split with no neurons / each language's neurons deactivated.

    One model load serves every method and condition (perplexity.jobs 1), or the
    tables are merged from the parts' NLL on this machine.
    """
    input:
        model=model_json,
        valid=valid_tokens,
        neurons=ppl_neurons,
        parts=part_files("ppl_part", "perplexity"),
    output:
        ppl=expand(R.pattern("ppl"), method=PPL_METHODS, allow_missing=True),
        delta=expand(R.pattern("ppl_delta"), method=PPL_METHODS, allow_missing=True),
        specificity=expand(R.pattern("ppl_specificity"), method=PPL_METHODS, allow_missing=True),
        nll=expand(R.pattern("ppl_nll"), method=PPL_METHODS, allow_missing=True),
    log:
        R.log("perplexity", "{model}"),
    benchmark:
        R.benchmark("perplexity", "{model}")
    localrule: JOBS["perplexity"] > 1
    conda:
        "../../envs/langneurons.yaml"
    threads: split("perplexity", GPU_THREADS, 1)
    resources:
        gpu=split("perplexity", gpus, 0),
        mem_mb=split("perplexity", mem_mb, MERGE_MEM_MB),
        runtime=split("perplexity", runtime("perplexity"), MERGE_MINUTES),
    params:
        model=model_cfg,
        methods=PPL_METHODS,
        languages=LANGS,
        block=config["uncertainty"]["block_tokens"],
    script:
        "../scripts/perplexity.py"


rule deactivation_ppl:
    """Own-language PPL as a growing share of each language's neurons is deactivated, the most specific first."""
    input:
        model=model_json,
        valid=valid_tokens,
        neurons=steering_neurons,
        stats=language_stats,
    output:
        R.pattern("ppl_deactivation"),
    log:
        R.log("deactivation_ppl", "{model}"),
    benchmark:
        R.benchmark("deactivation_ppl", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("deactivation_ppl"),
    params:
        model=model_cfg,
        languages=LANGS,
        shares=SHARES,
    script:
        "../scripts/deactivation_ppl.py"
