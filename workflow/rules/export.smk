# The export holds pseudonymised deliverables only: logs and benchmarks go elsewhere, and every
# rule needs the accounting table, so a sample that fails harmonisation leaves no file here.
# Only allow-listed fields are exported (DESIGN.md, "Privacy"); the cohort's AC/AN/AF are
# recomputed from its genotypes after merging.


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
    params:
        # the sample's own sites; INFO: AC, AN, AF recomputed plus these; FORMAT: GT DP GQ AD
        info_keep=PLAN.info_keep_options,
        format_keep=PLAN.format_keep_options,
    shell:
        "genopass export-vcf {input.vcf:q} --out {output.vcf:q}"
        " {params.info_keep} {params.format_keep}"
        " --threads {threads} > {log:q} 2>&1"


if len(PLAN.pseudonyms) > 1:

    rule bcftools_merge:
        input:
            vcfs=expand(rules.export_vcf.output.vcf, pseudonym=PLAN.pseudonyms),
            tbis=expand(rules.export_vcf.output.tbi, pseudonym=PLAN.pseudonyms),
            accounting=rules.summarise_accounting.output[0],
        output:
            vcf=EXPORT / "vcf" / "cohort.vcf.gz",
            tbi=EXPORT / "vcf" / "cohort.vcf.gz.tbi",
        log:
            LOGS / "bcftools_merge" / f"{DATASET}.log",
        benchmark:
            BENCHMARKS / "bcftools_merge" / f"{DATASET}.tsv"
        conda:
            "../../envs/bcftools.yaml"
        threads: 2
        shell:
            "(bcftools merge -m none --missing-to-ref --no-version -Ou {input.vcfs:q}"
            " | bcftools +fill-tags --no-version --threads {threads} -Oz -o {output.vcf:q}"
            " - -- -t AC,AN,AF"
            " && bcftools index -t {output.vcf:q}) > {log:q} 2>&1"

else:

    # A cohort of one: bcftools merge refuses a single file, and there is nothing to merge.
    rule bcftools_view:
        input:
            vcfs=expand(rules.export_vcf.output.vcf, pseudonym=PLAN.pseudonyms),
            tbis=expand(rules.export_vcf.output.tbi, pseudonym=PLAN.pseudonyms),
            accounting=rules.summarise_accounting.output[0],
        output:
            vcf=EXPORT / "vcf" / "cohort.vcf.gz",
            tbi=EXPORT / "vcf" / "cohort.vcf.gz.tbi",
        log:
            LOGS / "bcftools_view" / f"{DATASET}.log",
        benchmark:
            BENCHMARKS / "bcftools_view" / f"{DATASET}.tsv"
        conda:
            "../../envs/bcftools.yaml"
        threads: 2
        shell:
            "(bcftools +fill-tags --no-version --threads {threads} -Oz -o {output.vcf:q}"
            " {input.vcfs:q} -- -t AC,AN,AF"
            " && bcftools index -t {output.vcf:q}) > {log:q} 2>&1"


# the cohort VCF and its index, whichever rule above writes them
COHORT = (
    rules.bcftools_merge if len(PLAN.pseudonyms) > 1 else rules.bcftools_view
).output


rule export_parquet:
    input:
        vcf=COHORT.vcf,
        tbi=COHORT.tbi,
        fasta=REFERENCE,
        fai=rules.samtools_faidx.output[0],
        accounting=rules.summarise_accounting.output[0],
    output:
        directory(EXPORT / "parquet"),
    log:
        LOGS / "export_parquet" / f"{DATASET}.log",
    benchmark:
        BENCHMARKS / "export_parquet" / f"{DATASET}.tsv"
    conda:
        "../../envs/genopass.yaml"
    threads: 2
    params:
        reference_name=PLAN.reference_name,
        info_keep=PLAN.info_keep_options,
    shell:
        "genopass parquet {input.vcf:q}"
        " --reference {input.fasta:q} --reference-name {params.reference_name:q}"
        " {params.info_keep}"
        " --out {output:q} --threads {threads}"
        " > {log:q} 2>&1"


rule export_manifest:
    input:
        vcfs=expand(rules.export_vcf.output, pseudonym=PLAN.pseudonyms),
        cohort=COHORT,
        parquet=rules.export_parquet.output[0],
        accounting=rules.summarise_accounting.output[0],
    output:
        EXPORT / "MANIFEST.tsv",
    log:
        LOGS / "export_manifest" / f"{DATASET}.log",
    benchmark:
        BENCHMARKS / "export_manifest" / f"{DATASET}.tsv"
    conda:
        "../../envs/genopass.yaml"
    shell:
        # the folder that holds MANIFEST.tsv: the whole export
        'genopass manifest "$(dirname {output:q})" --out {output:q} > {log:q} 2>&1'
