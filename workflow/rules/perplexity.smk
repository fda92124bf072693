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
