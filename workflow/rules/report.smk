# The QC report: MultiQC over the tools' QC outputs and genopass's section (custom content: the
# gate's table with status and reasons, metrics against the preset's thresholds, the sex check,
# the relatedness pairs), results/qc/multiqc_report.html. Samples are named by pseudonym
# (qc.report_sample_names: pseudonym; MultiQC renames the tools' sample names through
# names.tsv) unless the config says sheet.


rule bcftools_stats:
    input:
        unpack(get_sample_harmonised_vcf),
    output:
        OUTDIR / "qc" / "bcftools_stats" / "{sample}.txt",
    log:
        LOGS / "bcftools_stats" / "{sample}.log",
    conda:
        "../../envs/bcftools.yaml"
    shell:
        "bcftools stats {input.vcf:q} > {output:q} 2> {log:q}"


rule write_report_content:
    input:
        summary=rules.gate_samples.output.summary,
        metrics=rules.gate_samples.output.metrics,
        relatedness=rules.write_relatedness.output[0],
    output:
        tables=[
            OUTDIR / "qc" / "write_report_content" / name for name in REPORT_CONTENT
        ],
        names=OUTDIR / "qc" / "write_report_content" / "names.tsv",
    log:
        LOGS / "write_report_content.log",
    conda:
        "../../envs/genopass.yaml"
    params:
        options=PLAN.qc.report_options,
        out_dir=OUTDIR / "qc" / "write_report_content",
    shell:
        "genopass qc-report-content {input.summary:q} {input.metrics:q}"
        " --relatedness {input.relatedness:q} {params.options} --out-dir {params.out_dir:q}"
        " > {log:q} 2>&1"


rule multiqc:
    input:
        unpack(get_report_inputs),
        names=rules.write_report_content.output.names,
    output:
        OUTDIR / "qc" / "multiqc_report.html",
    log:
        LOGS / "multiqc.log",
    benchmark:
        BENCHMARKS / "multiqc.tsv"
    conda:
        "../../envs/multiqc.yaml"
    resources:
        **rule_resources("multiqc"),
    params:
        out_dir=OUTDIR / "qc",
    shell:
        "multiqc --force --no-data-dir --no-ai --replace-names {input.names:q}"
        " --cl-config 'show_analysis_paths: false' --cl-config 'use_filename_as_sample_name: [fastp]'"
        " --outdir {params.out_dir:q} --filename multiqc_report.html"
        " {input.tools:q} {input.genopass:q} > {log:q} 2>&1"
