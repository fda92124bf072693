localrules:
    perplexity_ci,


rule stability:
    """Split-half and data-curve stability of the neurons selected from statistics (no model needed)."""
    input:
        parts=part_stats,
        neurons=expand(R.pattern("neurons"), method=STABILITY_METHODS, allow_missing=True),
    output:
        tables=expand(R.pattern("stability"), method=STABILITY_METHODS, allow_missing=True),
        figure=report(
            R.pattern("stability_figure"),
            caption="../../report/captions/stability.rst",
            category="Identified neurons",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "stability"},
        ),
    log:
        R.log("stability", "{model}"),
    benchmark:
        R.benchmark("stability", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        methods=STABILITY_METHODS,
        languages=LANGS,
        shards=SHARDS,
        parts=config["uncertainty"]["stability_parts"],
        selection=config["selection"],
    script:
        "../scripts/stability.py"


rule perplexity_ci:
    """Bootstrap intervals of the relative PPL changes of every method (resampling blocks of tokens)."""
    input:
        expand(R.pattern("ppl_nll"), method=PPL_METHODS, allow_missing=True),
    output:
        expand(R.pattern("ppl_ci"), method=PPL_METHODS, allow_missing=True),
    log:
        R.log("perplexity_ci", "{model}"),
    benchmark:
        R.benchmark("perplexity_ci", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        uncertainty=config["uncertainty"],
    script:
        "../scripts/perplexity_ci.py"


rule perplexity_null:
    """Own-language PPL increase of random draws with each method's count per language and layer: its own null."""
    input:
        model=model_json,
        valid=valid_tokens,
        nll=expand(R.pattern("ppl_nll"), method=PPL_METHODS, allow_missing=True),
        neurons=ppl_neurons,
    output:
        R.pattern("ppl_null"),
    log:
        R.log("perplexity_null", "{model}"),
    benchmark:
        R.benchmark("perplexity_null", "{model}")
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
        seed=config["selection"]["seed"],
        draws=NULL_DRAWS,
    script:
        "../scripts/perplexity_null.py"
