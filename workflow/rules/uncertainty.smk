localrules:
    perplexity_ci,


rule stability:
    """Split-half and data-curve stability of the neurons selected from statistics (no model needed)."""
    input:
        parts=part_stats,
        neurons=expand(os.path.join(RESULTS, "{{model}}", "neurons", "{method}.neuron.pth"), method=STABILITY_METHODS),
    output:
        tables=expand(os.path.join(RESULTS, "{{model}}", "neurons", "{method}.stability.csv"), method=STABILITY_METHODS),
        figure=report(
            os.path.join(RESULTS, "{model}", "figures", "stability.png"),
            caption="../../report/captions/stability.rst",
            category="Identified neurons",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "stability"},
        ),
    log:
        os.path.join(RESULTS, "logs", "stability", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "stability", "{model}.tsv")
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
        expand(os.path.join(RESULTS, "{{model}}", "ppl", "{method}.nll.pt"), method=PPL_METHODS),
    output:
        expand(os.path.join(RESULTS, "{{model}}", "ppl", "{method}.ci.csv"), method=PPL_METHODS),
    log:
        os.path.join(RESULTS, "logs", "perplexity_ci", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "perplexity_ci", "{model}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    params:
        uncertainty=config["uncertainty"],
    script:
        "../scripts/perplexity_ci.py"


rule perplexity_null:
    """Own-language PPL increase of extra random draws: the null for every method's increase."""
    input:
        model=model_json,
        valid=valid_tokens,
        stats=language_stats,
        nll=expand(os.path.join(RESULTS, "{{model}}", "ppl", "{method}.nll.pt"), method=PPL_METHODS),
        neurons=ppl_neurons,
    output:
        os.path.join(RESULTS, "{model}", "ppl", "null.csv"),
    log:
        os.path.join(RESULTS, "logs", "perplexity_null", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "perplexity_null", "{model}.tsv")
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
        selection=config["selection"],
        draws=NULL_DRAWS,
    script:
        "../scripts/perplexity_null.py"
