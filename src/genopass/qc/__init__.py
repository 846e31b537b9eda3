"""Quality control: the GA4GH WGS QC metrics and genopass's extras per sample, sample identity
across a run (inferred sex, contamination, kinship), threshold presets and the gate."""
