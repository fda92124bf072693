rule select_neurons:
    """Language-specific neurons by one statistics-based method (lape, lap, lap_budget, lave, random)."""
    input:
        language_stats,
    output:
        neurons=os.path.join(RESULTS, "{model}", "neurons", "{method}.neuron.pth"),
        counts=os.path.join(RESULTS, "{model}", "neurons", "{method}.counts.csv"),
        overlap=os.path.join(RESULTS, "{model}", "neurons", "{method}.overlap.csv"),
        jaccard=os.path.join(RESULTS, "{model}", "neurons", "{method}.jaccard.csv"),
    log:
        os.path.join(RESULTS, "logs", "select_neurons", "{model}", "{method}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "select_neurons", "{model}", "{method}.tsv")
    wildcard_constraints:
        method="lape|lap|lap_budget|lave|random",
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
        neurons=os.path.join(RESULTS, "{model}", "neurons", "imported.neuron.pth"),
        counts=os.path.join(RESULTS, "{model}", "neurons", "imported.counts.csv"),
        overlap=os.path.join(RESULTS, "{model}", "neurons", "imported.overlap.csv"),
        jaccard=os.path.join(RESULTS, "{model}", "neurons", "imported.jaccard.csv"),
    log:
        os.path.join(RESULTS, "logs", "import_neurons", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "import_neurons", "{model}.tsv")
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
        imported=os.path.join(RESULTS, "{model}", "neurons", "imported.neuron.pth"),
        lape=os.path.join(RESULTS, "{model}", "neurons", "lape.neuron.pth"),
    output:
        os.path.join(RESULTS, "{model}", "neurons", "imported_vs_lape.csv"),
    log:
        os.path.join(RESULTS, "logs", "compare_neurons", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "compare_neurons", "{model}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    params:
        languages=LANGS,
    script:
        "../scripts/compare_neurons.py"
