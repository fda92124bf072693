rule model_figures:
    """Per model and method: PPL-change heatmaps, neurons per layer, overlaps."""
    input:
        unpack(method_tables),
    output:
        [
            report(
                R.pattern("model_figure", kind="layers", method=method),
                caption="../../report/captions/layers.rst",
                category="Identified neurons",
                subcategory="{model}",
                labels={"model": "{model}", "method": method, "figure": "neurons per layer"},
            )
            for method in METHODS
        ]
        + [
            report(
                R.pattern("model_figure", kind="overlap", method=method),
                caption="../../report/captions/overlap.rst",
                category="Identified neurons",
                subcategory="{model}",
                labels={"model": "{model}", "method": method, "figure": "overlap"},
            )
            for method in METHODS
        ]
        + [
            report(
                R.pattern("model_figure", kind="ppl", method=method),
                caption="../../report/captions/ppl.rst",
                category="Perplexity under deactivation",
                subcategory="{model}",
                labels={"model": "{model}", "method": method, "figure": "PPL change"},
            )
            for method in PPL_METHODS
        ],
    log:
        R.log("model_figures", "{model}"),
    benchmark:
        R.benchmark("model_figures", "{model}")
    localrule: True
    conda:
        "../../envs/langneurons.yaml"
    params:
        methods=METHODS,
        ppl_methods=PPL_METHODS,
    script:
        "../scripts/model_figures.py"


rule ses_figure:
    """SES per layer, one curve per model."""
    input:
        expand(R.pattern("ses"), model=MODELS),
    output:
        report(
            R.pattern("ses_figure"),
            caption="../../report/captions/ses.rst",
            category="Sentence embedding similarity",
            labels={"figure": "SES per layer"},
        ),
    log:
        R.log("ses_figure"),
    benchmark:
        R.benchmark("ses_figure")
    localrule: True
    conda:
        "../../envs/langneurons.yaml"
    params:
        models=MODELS,
    script:
        "../scripts/ses_figure.py"


if SWEEP_STAGE:

    rule steering_figures:
        """The sweep's curves (success, quality and repetition against strength) and the deactivation dose-response."""
        input:
            sweep=R.pattern("sweep"),
            chosen=R.pattern("sweep_chosen"),
            deactivation=R.pattern("sweep_deactivation"),
            ppl=R.pattern("ppl_deactivation") if SHARES else [],
        output:
            [
                report(
                    path,
                    caption="../../report/captions/sweep.rst",
                    category="Steering",
                    subcategory="{model}",
                    labels={"model": "{model}", "figure": name},
                )
                for name, path in steering_figures("{model}").items()
            ],
        log:
            R.log("steering_figures", "{model}"),
        benchmark:
            R.benchmark("steering_figures", "{model}")
        localrule: True
        conda:
            "../../envs/langneurons.yaml"
        params:
            modes=STEER_MODES,
            languages=LANGS,
        script:
            "../scripts/steering_figures.py"
