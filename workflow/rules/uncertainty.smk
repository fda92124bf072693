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
    localrule: True
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


rule perplexity_null_part:
    """One of uncertainty.null_jobs even shares of the null's blocks of rows (one GPU job): their per-block NLL."""
    input:
        model=model_json,
        valid=valid_tokens,
        neurons=ppl_neurons,
    output:
        R.pattern("null_part"),
    log:
        R.log("perplexity_null_part", "{model}/{part}"),
    benchmark:
        R.benchmark("perplexity_null_part", "{model}/{part}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("perplexity_null"),
    params:
        model=model_cfg,
        methods=PPL_METHODS,
        languages=LANGS,
        seed=config["selection"]["seed"],
        draws=NULL_DRAWS,
        block=config["uncertainty"]["block_tokens"],
        jobs=JOBS["perplexity_null"],
    script:
        "../scripts/perplexity_null.py"


rule perplexity_null:
    """Own-language PPL increase of random draws with each method's count per language and layer: its own null.

    One job (uncertainty.null_jobs 1), or the merge of the parts' rows on this machine.
    """
    input:
        model=model_json,
        valid=valid_tokens,
        nll=expand(R.pattern("ppl_nll"), method=PPL_METHODS, allow_missing=True),
        neurons=ppl_neurons,
        parts=part_files("null_part", "perplexity_null"),
    output:
        R.pattern("ppl_null"),
    log:
        R.log("perplexity_null", "{model}"),
    benchmark:
        R.benchmark("perplexity_null", "{model}")
    localrule: JOBS["perplexity_null"] > 1
    conda:
        "../../envs/langneurons.yaml"
    threads: split("perplexity_null", GPU_THREADS, 1)
    resources:
        gpu=split("perplexity_null", gpus, 0),
        mem_mb=split("perplexity_null", mem_mb, MERGE_MEM_MB),
        runtime=split("perplexity_null", runtime("perplexity_null"), MERGE_MINUTES),
    params:
        model=model_cfg,
        methods=PPL_METHODS,
        languages=LANGS,
        seed=config["selection"]["seed"],
        draws=NULL_DRAWS,
        block=config["uncertainty"]["block_tokens"],
    script:
        "../scripts/perplexity_null.py"
