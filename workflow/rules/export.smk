# The export holds pseudonymised deliverables only: logs, benchmarks and work files go elsewhere,
# and every rule needs the accounting table, so a sample that fails harmonisation leaves no file
# here. Only allow-listed fields are exported (DESIGN.md, "Privacy"). The samples are those of
# exported_pseudonyms() (common.smk). The steps run in the order of docs/export.md: the crate
# lists every file before it, encryption copies everything but the manifests, and the manifest
# comes last.


rule export_vcf:
    input:
        unpack(get_harmonised_vcf),
        accounting=rules.summarise_accounting.output[0],
    output:
        vcf=EXPORT / "vcf" / "{pseudonym}.vcf.gz",
        tbi=EXPORT / "vcf" / "{pseudonym}.vcf.gz.tbi",
    log:
        LOGS / "export_vcf" / DATASET / "{pseudonym}.log",
    benchmark:
        BENCHMARKS / "export_vcf" / DATASET / "{pseudonym}.tsv"
    conda:
        "../../envs/genopass.yaml"
    threads: 2
    resources:
        **rule_resources("export_vcf"),
    params:
        # the sample's own sites; INFO: AC, AN, AF recomputed plus these; FORMAT: GT DP GQ AD
        info_keep=PLAN.info_keep_options,
        format_keep=PLAN.format_keep_options,
    shell:
        "genopass export-vcf {input.vcf:q} --out {output.vcf:q}"
        " {params.info_keep} {params.format_keep}"
        " --threads {threads} > {log:q} 2>&1"


# 0/0 only where a sample was called: at its gVCF reference blocks, else as
# export.missing_genotypes says; AC/AN/AF (and AC_Het/Hom/Hemi) recomputed from the genotypes.
if PLAN.export_regions:

    # Scatter by region (scatter.region_size): the cohort of each window (a work folder
    # outside the export holds them), ...
    rule export_cohort_region:
        input:
            vcfs=get_exported_vcfs,
            tbis=get_exported_tbis,
            blocks=get_cohort_blocks,
            accounting=rules.summarise_accounting.output[0],
        output:
            vcf=OUTDIR / "export_regions" / DATASET / "cohort" / "{region}.vcf.gz",
            tbi=OUTDIR / "export_regions" / DATASET / "cohort" / "{region}.vcf.gz.tbi",
        log:
            LOGS / "export_cohort_region" / DATASET / "{region}.log",
        benchmark:
            BENCHMARKS / "export_cohort_region" / DATASET / "{region}.tsv"
        wildcard_constraints:
            region=one_of([region.name for region in PLAN.export_regions]),
        conda:
            "../../envs/genopass.yaml"
        threads: 1
        resources:
            **rule_resources("export_cohort_region", like="export_cohort"),
        params:
            blocks=get_cohort_blocks_options,
            missing=PLAN.export_settings.missing_genotypes,
            region=lambda wildcards: PLAN.region_spec(wildcards.region),
        shell:
            "genopass cohort {input.vcfs:q} --out {output.vcf:q} {params.blocks}"
            " --missing-genotypes {params.missing:q} --region {params.region:q}"
            " --threads {threads} > {log:q} 2>&1"

    # ... concatenated in reference order: the bytes one export_cohort job writes.
    rule export_cohort:
        input:
            vcfs=expand(
                rules.export_cohort_region.output.vcf,
                region=[region.name for region in PLAN.export_regions],
            ),
            tbis=expand(
                rules.export_cohort_region.output.tbi,
                region=[region.name for region in PLAN.export_regions],
            ),
        output:
            vcf=EXPORT / "vcf" / "cohort.vcf.gz",
            tbi=EXPORT / "vcf" / "cohort.vcf.gz.tbi",
        log:
            LOGS / "export_cohort" / f"{DATASET}.log",
        benchmark:
            BENCHMARKS / "export_cohort" / f"{DATASET}.tsv"
        conda:
            "../../envs/genopass.yaml"
        threads: 2
        resources:
            **rule_resources("gather_cohort", like="check_vcf"),
        shell:
            "genopass cohort-gather {input.vcfs:q} --out {output.vcf:q} --threads {threads}"
            " > {log:q} 2>&1"

else:

    rule export_cohort:
        input:
            vcfs=get_exported_vcfs,
            tbis=get_exported_tbis,
            blocks=get_cohort_blocks,
            accounting=rules.summarise_accounting.output[0],
        output:
            vcf=EXPORT / "vcf" / "cohort.vcf.gz",
            tbi=EXPORT / "vcf" / "cohort.vcf.gz.tbi",
        log:
            LOGS / "export_cohort" / f"{DATASET}.log",
        benchmark:
            BENCHMARKS / "export_cohort" / f"{DATASET}.tsv"
        conda:
            "../../envs/genopass.yaml"
        threads: 2
        resources:
            **rule_resources("export_cohort"),
        params:
            blocks=get_cohort_blocks_options,
            missing=PLAN.export_settings.missing_genotypes,
        shell:
            "genopass cohort {input.vcfs:q} --out {output.vcf:q} {params.blocks}"
            " --missing-genotypes {params.missing:q} --threads {threads} > {log:q} 2>&1"


if PLAN.export_contigs:

    # Scatter by contig (with the cohort's regions): one contig's tables per job, in a work
    # folder outside the export, ...
    rule export_parquet_contig:
        input:
            vcf=rules.export_cohort.output.vcf,
            tbi=rules.export_cohort.output.tbi,
            fasta=REFERENCE,
            fai=rules.samtools_faidx.output[0],
            accounting=rules.summarise_accounting.output[0],
        output:
            directory(
                OUTDIR / "export_regions" / DATASET / "parquet" / "{export_contig}"
            ),
        log:
            LOGS / "export_parquet_contig" / DATASET / "{export_contig}.log",
        benchmark:
            BENCHMARKS / "export_parquet_contig" / DATASET / "{export_contig}.tsv"
        wildcard_constraints:
            export_contig=one_of(PLAN.export_contigs),
        conda:
            "../../envs/genopass.yaml"
        threads: 1
        resources:
            **rule_resources("export_parquet_contig", like="export_parquet"),
        params:
            reference_name=PLAN.reference_name,
            info_keep=PLAN.info_keep_options,
        shell:
            "genopass parquet {input.vcf:q} --contig {wildcards.export_contig:q}"
            " --reference {input.fasta:q} --reference-name {params.reference_name:q}"
            " {params.info_keep} --out {output:q} --threads {threads} > {log:q} 2>&1"

    # ... gathered into the export's folders: the files one export_parquet job writes.
    rule export_parquet:
        input:
            expand(
                rules.export_parquet_contig.output, export_contig=PLAN.export_contigs
            ),
        output:
            variants=directory(EXPORT / "parquet" / "variants"),
            genotypes=directory(EXPORT / "parquet" / "genotypes"),
        log:
            LOGS / "export_parquet" / f"{DATASET}.log",
        conda:
            "../../envs/genopass.yaml"
        params:
            out=EXPORT / "parquet",
        shell:
            "genopass parquet-gather {input:q} --out {params.out:q} > {log:q} 2>&1"

else:

    rule export_parquet:
        input:
            vcf=rules.export_cohort.output.vcf,
            tbi=rules.export_cohort.output.tbi,
            fasta=REFERENCE,
            fai=rules.samtools_faidx.output[0],
            accounting=rules.summarise_accounting.output[0],
        output:
            variants=directory(EXPORT / "parquet" / "variants"),
            genotypes=directory(EXPORT / "parquet" / "genotypes"),
        log:
            LOGS / "export_parquet" / f"{DATASET}.log",
        benchmark:
            BENCHMARKS / "export_parquet" / f"{DATASET}.tsv"
        conda:
            "../../envs/genopass.yaml"
        threads: 2
        resources:
            **rule_resources("export_parquet"),
        params:
            out=EXPORT / "parquet",
            reference_name=PLAN.reference_name,
            info_keep=PLAN.info_keep_options,
        shell:
            "genopass parquet {input.vcf:q}"
            " --reference {input.fasta:q} --reference-name {params.reference_name:q}"
            " {params.info_keep}"
            " --out {params.out:q} --threads {threads}"
            " > {log:q} 2>&1"


# One row per exported sample: pseudonym, country, sex, consent, and the QC gate's inferred sex
# and status; no local ID.
rule export_samples:
    input:
        samples=PLAN.samples_sheet,
        pseudonyms=rules.write_pseudonyms.output[0],
        cohort=rules.export_cohort.output.vcf,
        qc_summary=rules.gate_samples.output.summary,
    output:
        EXPORT / "parquet" / "samples" / "samples.parquet",
    log:
        LOGS / "export_samples" / f"{DATASET}.log",
    conda:
        "../../envs/genopass.yaml"
    params:
        include_centre=PLAN.export_settings.include_centre_option,
    shell:
        "genopass samples-table --samples {input.samples:q} --pseudonyms {input.pseudonyms:q}"
        " --cohort {input.cohort:q} --qc-summary {input.qc_summary:q} {params.include_centre}"
        " --out {output:q} > {log:q} 2>&1"


# Per country and sex, small cells suppressed; the summary of the suppression is a work file
# outside the export (metadata.json reports it).
if PLAN.export_contigs:

    # Scatter by contig: one contig's frequency files, JSON Lines and summary per job, ...
    rule export_frequencies_contig:
        input:
            variants=rules.export_parquet.output.variants,
            genotypes=rules.export_parquet.output.genotypes,
            samples=rules.export_samples.output[0],
            fasta=REFERENCE,
            fai=rules.samtools_faidx.output[0],
        output:
            directory(
                OUTDIR / "export_regions" / DATASET / "frequencies" / "{export_contig}"
            ),
        log:
            LOGS / "export_frequencies_contig" / DATASET / "{export_contig}.log",
        benchmark:
            BENCHMARKS / "export_frequencies_contig" / DATASET / "{export_contig}.tsv"
        wildcard_constraints:
            export_contig=one_of(PLAN.export_contigs),
        conda:
            "../../envs/genopass.yaml"
        threads: 1
        resources:
            **rule_resources("export_frequencies_contig", like="export_frequencies"),
        params:
            parquet=EXPORT / "parquet",
            dataset=DATASET,
            min_cell_count=PLAN.export_settings.min_cell_count,
            source_reference=PLAN.export_settings.source_reference_option,
        shell:
            "genopass frequencies {params.parquet:q} --samples-table {input.samples:q}"
            " --dataset {params.dataset:q} --min-cell-count {params.min_cell_count}"
            " {params.source_reference} --reference {input.fasta:q}"
            " --contig {wildcards.export_contig:q}"
            " --out {output:q}/frequencies --summary {output:q}/summary.json"
            " --threads {threads} > {log:q} 2>&1"

    # ... gathered: the files and the summary one export_frequencies job writes.
    rule export_frequencies:
        input:
            expand(
                rules.export_frequencies_contig.output,
                export_contig=PLAN.export_contigs,
            ),
        output:
            frequencies=directory(EXPORT / "frequencies"),
            summary=OUTDIR / "export_summary" / f"{DATASET}.frequencies.json",
        log:
            LOGS / "export_frequencies" / f"{DATASET}.log",
        conda:
            "../../envs/genopass.yaml"
        params:
            dataset=DATASET,
            parts=lambda wildcards, input: " ".join(
                f"--part {shlex.quote(f'{contig}={path}')}"
                for contig, path in zip(PLAN.export_contigs, input)
            ),
        shell:
            "genopass frequencies-gather {params.parts} --dataset {params.dataset:q}"
            " --out {output.frequencies:q} --summary {output.summary:q} > {log:q} 2>&1"

else:

    rule export_frequencies:
        input:
            variants=rules.export_parquet.output.variants,
            genotypes=rules.export_parquet.output.genotypes,
            samples=rules.export_samples.output[0],
            fasta=REFERENCE,
            fai=rules.samtools_faidx.output[0],
        output:
            frequencies=directory(EXPORT / "frequencies"),
            summary=OUTDIR / "export_summary" / f"{DATASET}.frequencies.json",
        log:
            LOGS / "export_frequencies" / f"{DATASET}.log",
        benchmark:
            BENCHMARKS / "export_frequencies" / f"{DATASET}.tsv"
        conda:
            "../../envs/genopass.yaml"
        threads: 2
        resources:
            **rule_resources("export_frequencies"),
        params:
            parquet=EXPORT / "parquet",
            dataset=DATASET,
            min_cell_count=PLAN.export_settings.min_cell_count,
            source_reference=PLAN.export_settings.source_reference_option,
        shell:
            "genopass frequencies {params.parquet:q} --samples-table {input.samples:q}"
            " --dataset {params.dataset:q} --min-cell-count {params.min_cell_count}"
            " {params.source_reference} --reference {input.fasta:q}"
            " --out {output.frequencies:q}"
            " --summary {output.summary:q} --threads {threads} > {log:q} 2>&1"


rule export_metadata:
    input:
        variants=rules.export_parquet.output.variants,
        genotypes=rules.export_parquet.output.genotypes,
        samples=rules.export_samples.output[0],
        frequencies=rules.export_frequencies.output.summary,
        qc_summary=rules.gate_samples.output.summary,
        input_checks=get_input_check_findings,
        fasta=REFERENCE,
        fai=rules.samtools_faidx.output[0],
    output:
        EXPORT / "metadata.json",
    log:
        LOGS / "export_metadata" / f"{DATASET}.log",
    conda:
        "../../envs/genopass.yaml"
    params:
        export=EXPORT,
        dataset=DATASET,
        reference_name=PLAN.reference_name,
        parameters=PLAN.export_settings.parameter_options,
        input_checks=lambda wildcards, input: input_check_options(input.input_checks),
    shell:
        "genopass metadata {params.export:q} --dataset {params.dataset:q}"
        " --reference {input.fasta:q} --reference-name {params.reference_name:q}"
        " --frequencies-summary {input.frequencies:q} --qc-summary {input.qc_summary:q}"
        " {params.input_checks} {params.parameters}"
        " --out {output:q} > {log:q} 2>&1"


# A Workflow Run RO-Crate of every file above; the run's inputs by checksum, never by path.
rule export_crate:
    input:
        vcfs=get_exported_vcfs,
        tbis=get_exported_tbis,
        cohort=rules.export_cohort.output.vcf,
        parquet=rules.export_parquet.output,
        samples=rules.export_samples.output[0],
        frequencies=rules.export_frequencies.output.frequencies,
        metadata=rules.export_metadata.output[0],
        workflow=workflow.main_snakefile,
        inputs=get_crate_inputs,
    output:
        snakefile=EXPORT / "workflow" / "Snakefile",
        crate=EXPORT / "ro-crate-metadata.json",
    log:
        LOGS / "export_crate" / f"{DATASET}.log",
    benchmark:
        BENCHMARKS / "export_crate" / f"{DATASET}.tsv"
    conda:
        "../../envs/genopass.yaml"
    params:
        export=EXPORT,
        dataset=DATASET,
        inputs=get_crate_input_options,
        parameters=PLAN.export_settings.parameter_options,
    shell:
        "genopass crate {params.export:q} --dataset {params.dataset:q}"
        " --workflow {input.workflow:q} {params.inputs} {params.parameters} > {log:q} 2>&1"


if PLAN.export_settings.recipients:

    # Crypt4GH copies of every file but the manifests, readable by each recipient's secret key.
    rule encrypt_export:
        input:
            vcfs=get_exported_vcfs,
            tbis=get_exported_tbis,
            crate=rules.export_crate.output,
            recipients=list(PLAN.export_settings.recipients),
        output:
            directory(EXPORT / "encrypted"),
        log:
            LOGS / "encrypt_export" / f"{DATASET}.log",
        benchmark:
            BENCHMARKS / "encrypt_export" / f"{DATASET}.tsv"
        conda:
            "../../envs/genopass.yaml"
        params:
            export=EXPORT,
            recipients=PLAN.export_settings.recipient_options,
        shell:
            "genopass encrypt {params.export:q} {params.recipients} > {log:q} 2>&1"


rule export_manifest:
    input:
        vcfs=get_exported_vcfs,
        tbis=get_exported_tbis,
        cohort=rules.export_cohort.output,
        parquet=rules.export_parquet.output,
        samples=rules.export_samples.output[0],
        frequencies=rules.export_frequencies.output.frequencies,
        metadata=rules.export_metadata.output[0],
        crate=rules.export_crate.output,
        encrypted=get_encrypted,
        accounting=rules.summarise_accounting.output[0],
    output:
        manifest=EXPORT / "MANIFEST.tsv",
        sha256sums=EXPORT / "SHA256SUMS",
    log:
        LOGS / "export_manifest" / f"{DATASET}.log",
    benchmark:
        BENCHMARKS / "export_manifest" / f"{DATASET}.tsv"
    conda:
        "../../envs/genopass.yaml"
    params:
        export=EXPORT,
    shell:
        "genopass manifest {params.export:q} --out {output.manifest:q}"
        " --sha256sums {output.sha256sums:q} > {log:q} 2>&1"
