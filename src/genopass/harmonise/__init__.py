"""Harmonisation to the target reference: the stream (:mod:`stream`), liftover from GRCh37
(:mod:`liftover`, :mod:`chain`), allele fixes (:mod:`alleles`), the standard header
(:mod:`header`), reject reasons (:mod:`reasons`) and the measured accounting (:mod:`accounting`).
"""

from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf

__all__ = ["HarmoniseOptions", "harmonise_vcf"]
