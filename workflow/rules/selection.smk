rule select_neurons:
    """Language-specific neurons by one statistics-based method (langneurons/methods.py: lape, lap, lap_budget, ...)."""
    input:
        language_stats,
    output:
        neurons=R.pattern("neurons"),
        counts=R.pattern("neuron_counts"),
        overlap=R.pattern("neuron_overlap"),
        jaccard=R.pattern("neuron_jaccard"),
    log:
        R.log("select_neurons", "{model}/{method}"),
    benchmark:
        R.benchmark("select_neurons", "{model}/{method}")
    wildcard_constraints:
        method="|".join(statistics_methods()),
    conda:
        "../../envs/langneurons.yaml"
    params:
        # only what these methods read: other methods' settings must not rerun them
        selection={k: v for k, v in config["selection"].items() if k not in ("methods", "pv", "imported")},
        languages=LANGS,
    script:
        "../scripts/select_neurons.py"


rule import_neurons:
    """A published neuron file (the authors' format), validated against the model."""
    input:
        model=model_json,
    output:
        neurons=R.pattern("neurons", method="imported"),
        counts=R.pattern("neuron_counts", method="imported"),
        overlap=R.pattern("neuron_overlap", method="imported"),
        jaccard=R.pattern("neuron_jaccard", method="imported"),
    log:
        R.log("import_neurons", "{model}"),
    benchmark:
        R.benchmark("import_neurons", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        imported=config["selection"]["imported"],
        languages=LANGS,
        downloads=os.path.join(config["resources_dir"], "neurons"),
    script:
        "../scripts/import_neurons.py"


rule compare_neurons:
    """Per language and layer overlap (Jaccard) of the imported set and our LAPE set."""
    input:
        imported=R.pattern("neurons", method="imported"),
        lape=R.pattern("neurons", method="lape"),
    output:
        R.pattern("imported_vs_lape"),
    log:
        R.log("compare_neurons", "{model}"),
    benchmark:
        R.benchmark("compare_neurons", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        languages=LANGS,
    script:
        "../scripts/compare_neurons.py"
