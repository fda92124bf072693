rule perplexity:
    """PPL of every language's valid split with no neurons / each language's neurons deactivated.

    One model load serves every method and condition.
    """
    input:
        model=model_json,
        valid=valid_tokens,
        neurons=ppl_neurons,
    output:
        ppl=expand(R.pattern("ppl"), method=PPL_METHODS, allow_missing=True),
        delta=expand(R.pattern("ppl_delta"), method=PPL_METHODS, allow_missing=True),
        specificity=expand(R.pattern("ppl_specificity"), method=PPL_METHODS, allow_missing=True),
        nll=expand(R.pattern("ppl_nll"), method=PPL_METHODS, allow_missing=True),
    log:
        R.log("perplexity", "{model}"),
    benchmark:
        R.benchmark("perplexity", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime,
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
        runtime=runtime,
    params:
        model=model_cfg,
        languages=LANGS,
        shares=SHARES,
    script:
        "../scripts/deactivation_ppl.py"
