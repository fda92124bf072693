rule report:
    """One self-contained HTML page (figures inlined) with every result, in the paper's order."""
    input:
        report_inputs,
    output:
        os.path.join(RESULTS, "report", "index.html"),
    log:
        os.path.join(RESULTS, "logs", "report.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "report.tsv")
    conda:
        "../../envs/langneurons.yaml"
    params:
        config=config,
        templates=os.path.join(workflow.basedir, "report"),
    script:
        "../scripts/report.py"
