rule perplexity:
    """PPL of every language's valid split with no neurons / each language's neurons deactivated.

    One model load serves every method and condition.
    """
    input:
        model=model_json,
        valid=valid_tokens,
        neurons=ppl_neurons,
    output:
        ppl=expand(os.path.join(RESULTS, "{{model}}", "ppl", "{method}.csv"), method=PPL_METHODS),
        delta=expand(os.path.join(RESULTS, "{{model}}", "ppl", "{method}.delta.csv"), method=PPL_METHODS),
        specificity=expand(os.path.join(RESULTS, "{{model}}", "ppl", "{method}.specificity.csv"), method=PPL_METHODS),
        nll=expand(os.path.join(RESULTS, "{{model}}", "ppl", "{method}.nll.pt"), method=PPL_METHODS),
    log:
        os.path.join(RESULTS, "logs", "perplexity", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "perplexity", "{model}.tsv")
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
