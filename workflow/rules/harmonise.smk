rule samtools_faidx:
    input:
        REFERENCE,
    output:
        f"{REFERENCE}.fai",
    log:
        LOGS / "samtools_faidx" / f"{Path(REFERENCE).name}.log",
    conda:
        "../../envs/samtools.yaml"
    shell:
        "samtools faidx {input:q} > {log:q} 2>&1"


rule write_pseudonyms:
    input:
        samples=PLAN.samples_sheet,
    output:
        OUTDIR / "private" / "pseudonyms.tsv",
    log:
        LOGS / "write_pseudonyms.log",
    conda:
        "../../envs/genopass.yaml"
    params:
        key=PLAN.key_option,
        # not used by the command: reruns the rule when the key, and so the pseudonyms, change
        digest=PLAN.pseudonyms_digest,
    shell:
        "genopass pseudonyms --samples {input.samples:q} {params.key} --out {output:q}"
        " > {log:q} 2>&1"


# The strict input check (docs/validation.md): a file that cannot be trusted stops here with
# one line; malformed records are listed, and harmonise_vcf rejects them as malformed:<defect>.
rule check_vcf:
    input:
        get_harmonise_input,
    output:
        malformed=OUTDIR / "harmonise" / "check_vcf" / "{sample}.malformed.tsv",
        findings=OUTDIR / "harmonise" / "check_vcf" / "{sample}.findings.json",
    log:
        LOGS / "check_vcf" / "{sample}.log",
    benchmark:
        BENCHMARKS / "check_vcf" / "{sample}.tsv"
    conda:
        "../../envs/genopass.yaml"
    resources:
        **rule_resources("check_vcf"),
    shell:
        "genopass validate --level vcf {input:q} --malformed {output.malformed:q}"
        " --findings {output.findings:q} > {log:q} 2>&1"


rule harmonise_vcf:
    input:
        unpack(get_liftover_files),
        vcf=get_harmonise_input,
        malformed=rules.check_vcf.output[0],
        fasta=REFERENCE,
        fai=rules.samtools_faidx.output[0],
    output:
        vcf=OUTDIR / "harmonise" / "harmonise_vcf" / "{sample}.vcf.gz",
        tbi=OUTDIR / "harmonise" / "harmonise_vcf" / "{sample}.vcf.gz.tbi",
        rejects=OUTDIR / "harmonise" / "harmonise_vcf" / "{sample}.rejects.vcf.gz",
        accounting=OUTDIR / "harmonise" / "harmonise_vcf" / "{sample}.accounting.tsv",
        blocks=OUTDIR / "harmonise" / "harmonise_vcf" / "{sample}.blocks.bed.gz",
        blocks_tbi=OUTDIR / "harmonise" / "harmonise_vcf" / "{sample}.blocks.bed.gz.tbi",
    log:
        LOGS / "harmonise_vcf" / "{sample}.log",
    benchmark:
        BENCHMARKS / "harmonise_vcf" / "{sample}.tsv"
    wildcard_constraints:
        # the others are harmonised region by region (scatter.region_size, below)
        sample=one_of(PLAN.unsplit_samples),
    conda:
        "../../envs/genopass.yaml"
    threads: 2
    resources:
        **rule_resources("harmonise_vcf"),
    params:
        reference_name=PLAN.reference_name,
        sample=get_sample_rename,
        build=get_build,
        options=PLAN.harmonise_options,
    shell:
        "genopass harmonise {input.vcf:q}"
        " --reference {input.fasta:q} --reference-name {params.reference_name:q}"
        " --sample {params.sample:q} --build {params.build:q} {params.options}"
        " --out {output.vcf:q} --rejects {output.rejects:q}"
        " --accounting {output.accounting:q} --blocks {output.blocks:q}"
        " --malformed {input.malformed:q} --threads {threads}"
        " > {log:q} 2>&1"


if PLAN.region_size:

    REGIONS = OUTDIR / "harmonise" / "harmonise_region" / "{sample}"

    # Scatter by region (docs/harmonisation.md): the records of each region of the target
    # counted in file order, harmonised one region per job with the file's source numbers, and
    # gathered into the files harmonise_vcf writes, the accounting measured on them.
    rule count_regions:
        input:
            vcf=get_harmonise_input,
            fai=rules.samtools_faidx.output[0],
        output:
            OUTDIR / "harmonise" / "regions" / "{sample}.regions.tsv",
        log:
            LOGS / "count_regions" / "{sample}.log",
        wildcard_constraints:
            sample=one_of(PLAN.scattered_samples),
        conda:
            "../../envs/genopass.yaml"
        resources:
            **rule_resources("count_regions", like="check_vcf"),
        params:
            fasta=REFERENCE,
            size=PLAN.region_size,
            reference_name=PLAN.reference_name,
            options=PLAN.region_harmonise_options,
        shell:
            "genopass region-counts {input.vcf:q} --reference {params.fasta:q}"
            " --reference-name {params.reference_name:q} --region-size {params.size}"
            " {params.options} --out {output:q} > {log:q} 2>&1"

    rule harmonise_region:
        input:
            vcf=get_harmonise_input,
            malformed=rules.check_vcf.output[0],
            table=rules.count_regions.output[0],
            fasta=REFERENCE,
            fai=rules.samtools_faidx.output[0],
        output:
            vcf=REGIONS / "{region}.vcf.gz",
            tbi=REGIONS / "{region}.vcf.gz.tbi",
            rejects=REGIONS / "{region}.rejects.vcf.gz",
            accounting=REGIONS / "{region}.accounting.tsv",
            blocks=REGIONS / "{region}.blocks.bed.gz",
            blocks_tbi=REGIONS / "{region}.blocks.bed.gz.tbi",
            pieces=REGIONS / "{region}.pieces",
        log:
            LOGS / "harmonise_region" / "{sample}" / "{region}.log",
        benchmark:
            BENCHMARKS / "harmonise_region" / "{sample}" / "{region}.tsv"
        wildcard_constraints:
            sample=one_of(PLAN.scattered_samples),
            region=one_of(PLAN.region_ids),
        conda:
            "../../envs/genopass.yaml"
        threads: 1
        resources:
            **rule_resources("harmonise_region", like="harmonise_vcf"),
        params:
            reference_name=PLAN.reference_name,
            sample=get_sample_rename,
            build=get_build,
            options=PLAN.region_harmonise_options,
        shell:
            "genopass harmonise {input.vcf:q} --region {wildcards.region:q}"
            " --region-table {input.table:q}"
            " --reference {input.fasta:q} --reference-name {params.reference_name:q}"
            " --sample {params.sample:q} --build {params.build:q} {params.options}"
            " --out {output.vcf:q} --rejects {output.rejects:q}"
            " --accounting {output.accounting:q} --blocks {output.blocks:q}"
            " --malformed {input.malformed:q} --threads {threads}"
            " > {log:q} 2>&1"

    # The same files as harmonise_vcf, gathered in file order; the accounting measured again.
    rule gather_harmonised:
        input:
            table=rules.count_regions.output[0],
            # the regions' VCFs as the input "vcf" (resources: harmonise_vcf's formula)
            vcf=expand(
                rules.harmonise_region.output.vcf,
                region=PLAN.region_ids,
                allow_missing=True,
            ),
            regions=expand(
                rules.harmonise_region.output,
                region=PLAN.region_ids,
                allow_missing=True,
            ),
        output:
            **rules.harmonise_vcf.output,
        log:
            LOGS / "gather_harmonised" / "{sample}.log",
        benchmark:
            BENCHMARKS / "gather_harmonised" / "{sample}.tsv"
        wildcard_constraints:
            sample=one_of(PLAN.scattered_samples),
        conda:
            "../../envs/genopass.yaml"
        threads: 2
        resources:
            **rule_resources("gather_harmonised", like="harmonise_vcf"),
        params:
            folder=lambda wildcards: str(REGIONS).format(sample=wildcards.sample),
        shell:
            "genopass harmonise-gather {params.folder:q} --region-table {input.table:q}"
            " --out {output.vcf:q} --rejects {output.rejects:q}"
            " --accounting {output.accounting:q} --blocks {output.blocks:q}"
            " --threads {threads} > {log:q} 2>&1"


# Every export rule needs this table, so that one failing sample stops the whole export.
rule summarise_accounting:
    input:
        expand(rules.harmonise_vcf.output.accounting, sample=PLAN.sample_ids),
    output:
        OUTDIR / "harmonise" / "accounting.tsv",
    log:
        LOGS / "summarise_accounting.log",
    conda:
        "../../envs/coreutils.yaml"
    shell:
        # the header line of the first table, then the rows of every table
        'set -- {input:q}; (head -n 1 "$1" && tail -q -n +2 "$@") > {output:q} 2> {log:q}'


localrules:
    write_pseudonyms,
    summarise_accounting,
