"""The cross-border package: pseudonyms, allow-listed VCFs, Parquet tables and the manifest."""
