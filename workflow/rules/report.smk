rule report:
    """One self-contained HTML page (figures inlined) with every result, in the paper's order."""
    input:
        report_inputs,
    output:
        R.pattern("report"),
    log:
        R.log("report"),
    benchmark:
        R.benchmark("report")
    localrule: True
    conda:
        "../../envs/langneurons.yaml"
    params:
        config=config,
        templates=os.path.join(workflow.basedir, "report"),
    script:
        "../scripts/report.py"
