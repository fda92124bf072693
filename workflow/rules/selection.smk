rule select_neurons:
    """Language-specific neurons by one method (lape, lap, lave, random)."""
    input:
        language_stats,
    output:
        neurons=os.path.join(RESULTS, "{model}", "neurons", "{method}.neuron.pth"),
        counts=os.path.join(RESULTS, "{model}", "neurons", "{method}.counts.csv"),
        overlap=os.path.join(RESULTS, "{model}", "neurons", "{method}.overlap.csv"),
        jaccard=os.path.join(RESULTS, "{model}", "neurons", "{method}.jaccard.csv"),
    params:
        selection=config["selection"],
        languages=LANGS,
    log:
        os.path.join(RESULTS, "logs", "select_neurons", "{model}", "{method}.log"),
    conda:
        "../../envs/langneurons.yaml"
    script:
        "../scripts/select_neurons.py"
