# Alignment: reference indexes (built beside the FASTA when missing), FASTQ units aligned and
# sorted, merged per sample and duplicate-marked; a centre's BAM/CRAM checked against the target
# reference (or, on GRCh37, the GRCh37 FASTA of the liftover) and indexed under results/ (the
# delivered file is read where it is, never changed).


rule bwa_index:
    input:
        REFERENCE,
    output:
        multiext(REFERENCE, ".amb", ".ann", ".bwt", ".pac", ".sa"),
    log:
        LOGS / "bwa_index" / f"{Path(REFERENCE).name}.log",
    benchmark:
        BENCHMARKS / "bwa_index" / f"{Path(REFERENCE).name}.tsv"
    conda:
        "../../envs/bwa.yaml"
    resources:
        **rule_resources("bwa_index"),
    shell:
        "bwa index {input:q} > {log:q} 2>&1"


rule minimap2_index:
    input:
        REFERENCE,
    output:
        f"{REFERENCE}.sr.mmi",
    log:
        LOGS / "minimap2_index" / f"{Path(REFERENCE).name}.log",
    benchmark:
        BENCHMARKS / "minimap2_index" / f"{Path(REFERENCE).name}.tsv"
    conda:
        "../../envs/minimap2.yaml"
    threads: 2
    resources:
        **rule_resources("minimap2_index"),
    shell:
        "minimap2 -x sr -t {threads} -d {output:q} {input:q} > {log:q} 2>&1"


rule samtools_dict:
    input:
        REFERENCE,
    output:
        PLAN.reference_dict,
    log:
        LOGS / "samtools_dict" / f"{Path(REFERENCE).name}.log",
    conda:
        "../../envs/samtools.yaml"
    shell:
        "samtools dict -o {output:q} {input:q} > {log:q} 2>&1"


# fixmate -m reads the name-grouped output of the aligner (mates adjacent) and adds the mate
# tags that markdup needs; the units are then sorted by coordinate.
rule bwa_mem:
    input:
        reads=get_trimmed_fastq,
        fasta=REFERENCE,
        index=rules.bwa_index.output,
    output:
        temp(OUTDIR / "align" / "bwa_mem" / "{sample}.{unit}.bam"),
    log:
        LOGS / "bwa_mem" / "{sample}.{unit}.log",
    benchmark:
        BENCHMARKS / "bwa_mem" / "{sample}.{unit}.tsv"
    conda:
        "../../envs/bwa.yaml"
    threads: 4
    resources:
        **rule_resources("bwa_mem"),
    params:
        read_group=get_read_group,
    shell:
        "(bwa mem -t {threads} -R {params.read_group:q} {input.fasta:q} {input.reads:q}"
        " | samtools fixmate -m -u - -"
        " | samtools sort -@ {threads} -T {output:q}.sort -o {output:q} -) > {log:q} 2>&1"


rule minimap2_sr:
    input:
        reads=get_trimmed_fastq,
        index=rules.minimap2_index.output[0],
    output:
        temp(OUTDIR / "align" / "minimap2_sr" / "{sample}.{unit}.bam"),
    log:
        LOGS / "minimap2_sr" / "{sample}.{unit}.log",
    benchmark:
        BENCHMARKS / "minimap2_sr" / "{sample}.{unit}.tsv"
    conda:
        "../../envs/minimap2.yaml"
    threads: 4
    resources:
        **rule_resources("minimap2_sr"),
    params:
        read_group=get_read_group,
    shell:
        "(minimap2 -ax sr -t {threads} -R {params.read_group:q} {input.index:q} {input.reads:q}"
        " | samtools fixmate -m -u - -"
        " | samtools sort -@ {threads} -T {output:q}.sort -o {output:q} -) > {log:q} 2>&1"


rule samtools_merge:
    input:
        get_unit_alignments,
    output:
        temp(OUTDIR / "align" / "samtools_merge" / "{sample}.bam"),
    log:
        LOGS / "samtools_merge" / "{sample}.log",
    benchmark:
        BENCHMARKS / "samtools_merge" / "{sample}.tsv"
    conda:
        "../../envs/samtools.yaml"
    threads: 2
    resources:
        **rule_resources("samtools_merge"),
    shell:
        "samtools merge -f -@ {threads} -o {output:q} {input:q} > {log:q} 2>&1"


rule samtools_markdup:
    input:
        rules.samtools_merge.output[0],
    output:
        bam=OUTDIR / "align" / "samtools_markdup" / "{sample}.bam",
        bai=OUTDIR / "align" / "samtools_markdup" / "{sample}.bam.bai",
        stats=OUTDIR / "align" / "samtools_markdup" / "{sample}.markdup.txt",
    log:
        LOGS / "samtools_markdup" / "{sample}.log",
    benchmark:
        BENCHMARKS / "samtools_markdup" / "{sample}.tsv"
    conda:
        "../../envs/samtools.yaml"
    threads: 2
    resources:
        **rule_resources("samtools_markdup"),
    shell:
        "samtools markdup -@ {threads} -s -f {output.stats:q} --write-index"
        " -T {output.bam:q}.markdup {input:q} {output.bam:q}##idx##{output.bai:q}"
        " > {log:q} 2>&1"


rule check_alignment:
    input:
        unpack(get_check_alignment_reference),
        alignment=get_alignment_unit,
    output:
        OUTDIR / "align" / "check_alignment" / "{sample}.tsv",
    log:
        LOGS / "check_alignment" / "{sample}.log",
    conda:
        "../../envs/genopass.yaml"
    params:
        options=get_check_alignment_options,
    shell:
        "genopass check-alignment {input.alignment:q} --reference {input.fasta:q}"
        " {params.options} --out {output:q} > {log:q} 2>&1"


# The index of a delivered BAM/CRAM goes under results/; tools find it as FILE##idx##INDEX.
rule samtools_index:
    input:
        unpack(get_sample_reference),
        alignment=get_alignment_unit,
        check=rules.check_alignment.output[0],
    output:
        OUTDIR / "align" / "samtools_index" / "{sample}.{index}",
    log:
        LOGS / "samtools_index" / "{sample}.{index}.log",
    benchmark:
        BENCHMARKS / "samtools_index" / "{sample}.{index}.tsv"
    conda:
        "../../envs/samtools.yaml"
    threads: 2
    resources:
        **rule_resources("samtools_index"),
    params:
        ref_path=OFFLINE_REF_PATH,
    shell:
        "REF_PATH={params.ref_path:q} samtools index -@ {threads} -o {output:q}"
        " {input.alignment:q} > {log:q} 2>&1"
