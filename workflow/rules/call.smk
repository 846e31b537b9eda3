# Variant calling of FASTQ, BAM and CRAM samples, one job per contig of the sample's reference
# (a GRCh37 alignment is called on GRCh37), gathered per sample; the result goes to the same
# harmonisation as a VCF unit (harmonise.smk, get_harmonise_input), which lifts GRCh37 calls over.
# config reads.caller picks the caller; another caller (GATK, DeepVariant) adds its rules here
# with its environment in envs/, and its per-sample VCF in get_harmonise_input (common.smk).


# The sample column is the sheet's sample ID whatever the @RG SM of a delivered BAM says
# (--read-groups '* FILE SAMPLE'); harmonisation renames it to the pseudonym. REF_PATH: a CRAM
# is decoded with the configured FASTA only, never a reference fetched by its digest.
rule bcftools_call:
    input:
        unpack(get_sample_alignment),
        unpack(get_sample_reference),
    output:
        temp(OUTDIR / "call" / "bcftools_call" / "{sample}.{contig}.bcf"),
    log:
        LOGS / "bcftools_call" / "{sample}.{contig}.log",
    benchmark:
        BENCHMARKS / "bcftools_call" / "{sample}.{contig}.tsv"
    conda:
        "../../envs/bcftools.yaml"
    resources:
        **rule_resources("bcftools_call"),
    params:
        alignment=get_indexed_alignment,
        ref_path=OFFLINE_REF_PATH,
    shell:
        "(REF_PATH={params.ref_path:q} bcftools mpileup --fasta-ref {input.fasta:q} --regions {wildcards.contig:q}"
        " --annotate FORMAT/AD,FORMAT/DP --output-type u"
        " --read-groups <(printf '* %s %s\\n' {params.alignment:q} {wildcards.sample:q})"
        " {params.alignment:q}"
        " | bcftools call --multiallelic-caller --variants-only --output-type b"
        " --output {output:q}) > {log:q} 2>&1"


rule bcftools_concat:
    input:
        get_contig_calls,
    output:
        vcf=OUTDIR / "call" / "bcftools_concat" / "{sample}.vcf.gz",
        tbi=OUTDIR / "call" / "bcftools_concat" / "{sample}.vcf.gz.tbi",
    log:
        LOGS / "bcftools_concat" / "{sample}.log",
    benchmark:
        BENCHMARKS / "bcftools_concat" / "{sample}.tsv"
    conda:
        "../../envs/bcftools.yaml"
    threads: 2
    resources:
        **rule_resources("bcftools_concat"),
    shell:
        "(bcftools concat --threads {threads} --output-type z --output {output.vcf:q} {input:q}"
        " && bcftools index --tbi {output.vcf:q}) > {log:q} 2>&1"
