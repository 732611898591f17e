"""The models, one file per method, all behind :class:`initbench.methods.base.Translator`.

Importing this package imports every method module, and each module registers itself.
"""

from initbench.methods.base import Translator, TrainableTranslator, get_method, method_names  # noqa: F401

# One import line per method module (each calls ``register`` at import time):
from initbench.methods import init as _init  # noqa: F401,E402
from initbench.methods import cyclegan, drit, munit, unit  # noqa: F401,E402  (baselines, issue 6)
from initbench.methods import colour_transfer, identity  # noqa: F401,E402  (floors, issue 12)
