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
    params:
        alignment=get_indexed_alignment,
        prefix=get_mosdepth_prefix,
        ref_path=OFFLINE_REF_PATH,
    shell:
        "REF_PATH={params.ref_path:q} mosdepth --threads {threads} --no-per-base --mapq 20 --by {input.bed:q}"
        " --thresholds 10,15,30 --fasta {input.fasta:q}"
        " {params.prefix:q} {params.alignment:q} > {log:q} 2>&1"
