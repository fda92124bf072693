# langneurons: language-specific neurons (Tang et al., ACL 2024), end to end.
from snakemake.utils import min_version

min_version("8.0")


# config.yaml is the embedded default; `--configfile other.yaml` replaces it
# (instead of merging into it, which would add the default model to every run).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/selection.smk"
include: "workflow/rules/pv.smk"
include: "workflow/rules/perplexity.smk"
include: "workflow/rules/uncertainty.smk"
include: "workflow/rules/ses.smk"
include: "workflow/rules/figures.smk"


if TASK_METHODS:

    include: "workflow/rules/tasks.smk"


if GEN_METHODS or STEER_METHOD:

    include: "workflow/rules/generation.smk"


include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
        os.path.join(RESULTS, "report", "index.html"),
