"""initbench: the INIT street dataset, a leak-free split, loaders, models and one versioned evaluator."""

__version__ = "0.1.0"
