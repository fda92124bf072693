rule model_figures:
    """Per model and method: PPL-change heatmaps, neurons per layer, overlaps."""
    input:
        unpack(method_tables),
    output:
        [
            report(
                os.path.join(RESULTS, "{model}", "figures", f"layers_{method}.png"),
                caption="../../report/captions/layers.rst",
                category="Identified neurons",
                subcategory="{model}",
                labels={"model": "{model}", "method": method, "figure": "neurons per layer"},
            )
            for method in METHODS
        ]
        + [
            report(
                os.path.join(RESULTS, "{model}", "figures", f"overlap_{method}.png"),
                caption="../../report/captions/overlap.rst",
                category="Identified neurons",
                subcategory="{model}",
                labels={"model": "{model}", "method": method, "figure": "overlap"},
            )
            for method in METHODS
        ]
        + [
            report(
                os.path.join(RESULTS, "{model}", "figures", f"ppl_{method}.png"),
                caption="../../report/captions/ppl.rst",
                category="Perplexity under deactivation",
                subcategory="{model}",
                labels={"model": "{model}", "method": method, "figure": "PPL change"},
            )
            for method in PPL_METHODS
        ],
    log:
        os.path.join(RESULTS, "logs", "model_figures", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "model_figures", "{model}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    params:
        methods=METHODS,
        ppl_methods=PPL_METHODS,
        outdir=figure_dir,
    script:
        "../scripts/model_figures.py"


rule ses_figure:
    """SES per layer, one curve per model."""
    input:
        expand(os.path.join(RESULTS, "{model}", "ses.csv"), model=MODELS),
    output:
        report(
            os.path.join(RESULTS, "figures", "ses.png"),
            caption="../../report/captions/ses.rst",
            category="Sentence embedding similarity",
            labels={"figure": "SES per layer"},
        ),
    log:
        os.path.join(RESULTS, "logs", "ses_figure.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "ses_figure.tsv")
    conda:
        "../../envs/langneurons.yaml"
    params:
        models=MODELS,
    script:
        "../scripts/ses_figure.py"
