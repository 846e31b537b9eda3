"""What the centres deliver, loaded and checked before any job runs.

config and sheets (validated against the schemas), the reference FASTA and its contigs, contig
naming across conventions (alias tables), build detection, and the cheap checks of FASTQ and
BAM/CRAM inputs.
"""
