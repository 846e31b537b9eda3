# FASTQ units: each file read whole (complete gzip, well-formed, pairs of equal length) before
# anything else touches it, then adapter and quality trimming with fastp (reports kept for QC).


rule check_fastq:
    input:
        get_fastq,
    output:
        OUTDIR / "reads" / "check_fastq" / "{sample}.{unit}.tsv",
    log:
        LOGS / "check_fastq" / "{sample}.{unit}.log",
    benchmark:
        BENCHMARKS / "check_fastq" / "{sample}.{unit}.tsv"
    conda:
        "../../envs/genopass.yaml"
    threads: 2
    shell:
        "genopass check-fastq {input:q} --out {output:q} --threads {threads} > {log:q} 2>&1"


rule fastp_pe:
    input:
        fastq=get_fastq,
        check=rules.check_fastq.output[0],
    output:
        r1=temp(OUTDIR / "reads" / "fastp_pe" / "{sample}.{unit}.R1.fastq.gz"),
        r2=temp(OUTDIR / "reads" / "fastp_pe" / "{sample}.{unit}.R2.fastq.gz"),
        json=OUTDIR / "reads" / "fastp_pe" / "{sample}.{unit}.fastp.json",
        html=OUTDIR / "reads" / "fastp_pe" / "{sample}.{unit}.fastp.html",
    log:
        LOGS / "fastp_pe" / "{sample}.{unit}.log",
    benchmark:
        BENCHMARKS / "fastp_pe" / "{sample}.{unit}.tsv"
    conda:
        "../../envs/fastp.yaml"
    threads: 2
    resources:
        **rule_resources("fastp_pe"),
    shell:
        # --detect_adapter_for_pe: adapters found by overlap and by sequence; -z 1: the output is
        # temporary, fast compression is enough
        "fastp --in1 {input.fastq[0]:q} --in2 {input.fastq[1]:q}"
        " --out1 {output.r1:q} --out2 {output.r2:q} --detect_adapter_for_pe"
        " --json {output.json:q} --html {output.html:q} --report_title {wildcards.unit:q}"
        " --thread {threads} -z 1 > {log:q} 2>&1"


rule fastp_se:
    input:
        fastq=get_fastq,
        check=rules.check_fastq.output[0],
    output:
        reads=temp(OUTDIR / "reads" / "fastp_se" / "{sample}.{unit}.fastq.gz"),
        json=OUTDIR / "reads" / "fastp_se" / "{sample}.{unit}.fastp.json",
        html=OUTDIR / "reads" / "fastp_se" / "{sample}.{unit}.fastp.html",
    log:
        LOGS / "fastp_se" / "{sample}.{unit}.log",
    benchmark:
        BENCHMARKS / "fastp_se" / "{sample}.{unit}.tsv"
    conda:
        "../../envs/fastp.yaml"
    threads: 2
    resources:
        **rule_resources("fastp_se"),
    shell:
        "fastp --in1 {input.fastq[0]:q} --out1 {output.reads:q}"
        " --json {output.json:q} --html {output.html:q} --report_title {wildcards.unit:q}"
        " --thread {threads} -z 1 > {log:q} 2>&1"
