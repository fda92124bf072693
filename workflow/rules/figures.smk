rule model_figures:
    """Per model and method: PPL-change heatmaps, neurons per layer, overlaps."""
    input:
        unpack(method_tables),
    output:
        [
            os.path.join(RESULTS, "{model}", "figures", f"{kind}_{method}.png")
            for kind in ("layers", "overlap")
            for method in METHODS
        ]
        + [os.path.join(RESULTS, "{model}", "figures", f"ppl_{method}.png") for method in PPL_METHODS],
    params:
        methods=METHODS,
        ppl_methods=PPL_METHODS,
        outdir=figure_dir,
    log:
        os.path.join(RESULTS, "logs", "model_figures", "{model}.log"),
    conda:
        "../../envs/langneurons.yaml"
    script:
        "../scripts/model_figures.py"


rule ses_figure:
    """SES per layer, one curve per model."""
    input:
        expand(os.path.join(RESULTS, "{model}", "ses.csv"), model=MODELS),
    output:
        os.path.join(RESULTS, "figures", "ses.png"),
    params:
        models=MODELS,
    log:
        os.path.join(RESULTS, "logs", "ses_figure.log"),
    conda:
        "../../envs/langneurons.yaml"
    script:
        "../scripts/ses_figure.py"
