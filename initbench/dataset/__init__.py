"""Everything that reads the INIT release: format, validation, split, loaders, synthetic data, exports."""
