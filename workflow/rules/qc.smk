# Alignment QC of every FASTQ, BAM and CRAM sample (against the reference it is on: the target, or
# GRCh37), kept under results/qc/ for the QC step and MultiQC: samtools stats and flagstat, and
# coverage of the autosomes outside assembly gaps
# (mosdepth: MAPQ >= 20, duplicates and secondary alignments left out, overlapping mates counted
# once; thresholds 10x, 15x, 30x). REF_PATH: a CRAM is decoded with the configured FASTA only.


rule write_autosomes:
    input:
        unpack(get_autosomes_fasta),
    output:
        OUTDIR / "qc" / "write_autosomes" / "{fasta_name}.autosomes.bed",
    log:
        LOGS / "write_autosomes" / "{fasta_name}.log",
    conda:
        "../../envs/genopass.yaml"
    shell:
        "genopass autosomes {input.fasta:q} --out {output:q} > {log:q} 2>&1"


# the autosomes of the target, where the harmonised VCFs' variant metrics are counted
TARGET_AUTOSOMES = expand(
    rules.write_autosomes.output[0], fasta_name=Path(REFERENCE).name
)[0]


rule samtools_stats:
    input:
        unpack(get_sample_alignment),
        unpack(get_sample_reference),
    output:
        OUTDIR / "qc" / "samtools_stats" / "{sample}.txt",
    log:
        LOGS / "samtools_stats" / "{sample}.log",
    benchmark:
        BENCHMARKS / "samtools_stats" / "{sample}.tsv"
    conda:
        "../../envs/samtools.yaml"
    threads: 2
    resources:
        **rule_resources("samtools_stats"),
    params:
        ref_path=OFFLINE_REF_PATH,
    shell:
        "REF_PATH={params.ref_path:q} samtools stats -@ {threads} --reference {input.fasta:q} {input.alignment:q}"
        " > {output:q} 2> {log:q}"


rule samtools_flagstat:
    input:
        unpack(get_sample_alignment),
        unpack(get_sample_reference),
    output:
        OUTDIR / "qc" / "samtools_flagstat" / "{sample}.txt",
    log:
        LOGS / "samtools_flagstat" / "{sample}.log",
    conda:
        "../../envs/samtools.yaml"
    threads: 2
    resources:
        **rule_resources("samtools_flagstat"),
    params:
        ref_path=OFFLINE_REF_PATH,
    shell:
        "REF_PATH={params.ref_path:q} samtools flagstat -@ {threads} --input-fmt-option reference={input.fasta:q}"
        " {input.alignment:q}"
        " > {output:q} 2> {log:q}"


rule mosdepth:
    input:
        unpack(get_sample_alignment),
        unpack(get_sample_reference),
        bed=get_autosomes_bed,
    output:
        multiext(
            str(OUTDIR / "qc" / "mosdepth" / "{sample}"),
            ".mosdepth.summary.txt",
            ".mosdepth.global.dist.txt",
            ".mosdepth.region.dist.txt",
            ".regions.bed.gz",
            ".regions.bed.gz.csi",
            ".thresholds.bed.gz",
            ".thresholds.bed.gz.csi",
        ),
    log:
        LOGS / "mosdepth" / "{sample}.log",
    benchmark:
        BENCHMARKS / "mosdepth" / "{sample}.tsv"
    conda:
        "../../envs/mosdepth.yaml"
    threads: 2
    resources:
        **rule_resources("mosdepth"),
    params:
        alignment=get_indexed_alignment,
        prefix=get_mosdepth_prefix,
        ref_path=OFFLINE_REF_PATH,
    shell:
        "REF_PATH={params.ref_path:q} mosdepth --threads {threads} --no-per-base --mapq 20 --by {input.bed:q}"
        " --thresholds 10,15,30 --fasta {input.fasta:q}"
        " {params.prefix:q} {params.alignment:q} > {log:q} 2>&1"


# Picard, as the GA4GH standard computes coverage and the Q30 yield (docs/qc.md). The interval
# list takes its sequence dictionary from the alignment's header, so its names are the BAM's.
rule picard_bed_to_interval_list:
    input:
        unpack(get_sample_alignment),
        bed=get_autosomes_bed,
    output:
        OUTDIR / "qc" / "picard_bed_to_interval_list" / "{sample}.interval_list",
    log:
        LOGS / "picard_bed_to_interval_list" / "{sample}.log",
    conda:
        "../../envs/picard.yaml"
    resources:
        **rule_resources("picard_bed_to_interval_list"),
    params:
        picard=PICARD,
    shell:
        "{params.picard} BedToIntervalList I={input.bed:q} O={output:q} SD={input.alignment:q}"
        " > {log:q} 2>&1"


# Coverage of the autosomes outside gaps: MAPQ and base quality >= 20; Picard's defaults leave
# out duplicates, secondary alignments and overlapping mate bases, and cap depth at 250.
rule picard_collect_wgs_metrics:
    input:
        unpack(get_sample_alignment),
        unpack(get_sample_reference),
        intervals=rules.picard_bed_to_interval_list.output[0],
    output:
        OUTDIR / "qc" / "picard_collect_wgs_metrics" / "{sample}.txt",
    log:
        LOGS / "picard_collect_wgs_metrics" / "{sample}.log",
    benchmark:
        BENCHMARKS / "picard_collect_wgs_metrics" / "{sample}.tsv"
    conda:
        "../../envs/picard.yaml"
    resources:
        **rule_resources("picard_collect_wgs_metrics"),
    params:
        picard=PICARD,
        ref_path=OFFLINE_REF_PATH,
    shell:
        "REF_PATH={params.ref_path:q} {params.picard} CollectWgsMetrics I={input.alignment:q}"
        " O={output:q} R={input.fasta:q} INTERVALS={input.intervals:q}"
        " MINIMUM_MAPPING_QUALITY=20 MINIMUM_BASE_QUALITY=20 > {log:q} 2>&1"


rule picard_collect_quality_yield_metrics:
    input:
        unpack(get_sample_alignment),
        unpack(get_sample_reference),
    output:
        OUTDIR / "qc" / "picard_collect_quality_yield_metrics" / "{sample}.txt",
    log:
        LOGS / "picard_collect_quality_yield_metrics" / "{sample}.log",
    benchmark:
        BENCHMARKS / "picard_collect_quality_yield_metrics" / "{sample}.tsv"
    conda:
        "../../envs/picard.yaml"
    resources:
        **rule_resources("picard_collect_quality_yield_metrics"),
    params:
        picard=PICARD,
        ref_path=OFFLINE_REF_PATH,
    shell:
        "REF_PATH={params.ref_path:q} {params.picard} CollectQualityYieldMetrics"
        " I={input.alignment:q} O={output:q} R={input.fasta:q} > {log:q} 2>&1"


# Every sample's PASS biallelic autosomal SNVs in one matrix, with the cohort's AC/AN/AF: the
# sites of kinship, and the frequencies of the contamination estimate without a panel.
rule write_qc_cohort:
    input:
        vcfs=expand(rules.harmonise_vcf.output.vcf, sample=PLAN.sample_ids),
        tbis=expand(rules.harmonise_vcf.output.tbi, sample=PLAN.sample_ids),
        autosomes=TARGET_AUTOSOMES,
    output:
        vcf=OUTDIR / "qc" / "write_qc_cohort" / "cohort.vcf.gz",
        tbi=OUTDIR / "qc" / "write_qc_cohort" / "cohort.vcf.gz.tbi",
    log:
        LOGS / "write_qc_cohort.log",
    benchmark:
        BENCHMARKS / "write_qc_cohort.tsv"
    conda:
        "../../envs/genopass.yaml"
    threads: 2
    resources:
        **rule_resources("write_qc_cohort"),
    shell:
        "genopass qc-cohort {input.vcfs:q} --autosomes {input.autosomes:q}"
        " --out {output.vcf:q} --threads {threads} > {log:q} 2>&1"


# One sample's GA4GH metrics and genopass's extras, before the gate (a VCF-only sample: the
# variant metrics only).
rule write_qc_metrics:
    input:
        unpack(get_qc_metrics_inputs),
    output:
        OUTDIR / "qc" / "write_qc_metrics" / "{sample}.json",
    log:
        LOGS / "write_qc_metrics" / "{sample}.log",
    conda:
        "../../envs/genopass.yaml"
    params:
        pseudonym=get_pseudonym,
        options=get_qc_metrics_options,
    shell:
        "genopass qc-metrics --vcf {input.vcf:q} --autosomes {input.autosomes:q}"
        " --pseudonym {params.pseudonym:q} --accounting {input.accounting:q} {params.options}"
        " --out {output:q} > {log:q} 2>&1"


rule write_relatedness:
    input:
        cohort=rules.write_qc_cohort.output.vcf,
        pseudonyms=rules.write_pseudonyms.output[0],
    output:
        OUTDIR / "qc" / "relatedness.tsv",
    log:
        LOGS / "write_relatedness.log",
    conda:
        "../../envs/plink2.yaml"
    threads: 2
    resources:
        **rule_resources("write_relatedness"),
    shell:
        "genopass qc-relatedness {input.cohort:q} --pseudonyms {input.pseudonyms:q}"
        " --out {output:q} --threads {threads} > {log:q} 2>&1"


# The gate: PASS/WARN/FAIL with reasons (summary.tsv), each sample's final JSON, and the samples
# the export holds (exported.tsv: sample, pseudonym). A checkpoint: the export rules read
# exported.tsv (checkpoints.gate_samples.get().output.exported) to know which samples to export.
checkpoint gate_samples:
    input:
        metrics=expand(rules.write_qc_metrics.output[0], sample=PLAN.sample_ids),
        samples=PLAN.samples_sheet,
        pseudonyms=rules.write_pseudonyms.output[0],
        relatedness=rules.write_relatedness.output[0],
    output:
        summary=OUTDIR / "qc" / "summary.tsv",
        exported=OUTDIR / "qc" / "exported.tsv",
        metrics=expand(
            OUTDIR / "qc" / "metrics" / "{sample}.qc.json", sample=PLAN.sample_ids
        ),
    log:
        LOGS / "gate_samples.log",
    conda:
        "../../envs/genopass.yaml"
    params:
        options=PLAN.qc.gate_options,
        json_dir=OUTDIR / "qc" / "metrics",
    shell:
        "genopass qc-gate {input.metrics:q} --samples {input.samples:q}"
        " --pseudonyms {input.pseudonyms:q} --relatedness {input.relatedness:q} {params.options}"
        " --summary {output.summary:q} --exported {output.exported:q}"
        " --json-dir {params.json_dir:q} > {log:q} 2>&1"
