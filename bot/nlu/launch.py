"""``rasa`` with scikit-learn's model loader imported first: ``python -m bot.nlu.launch run ...``.

Same arguments and behaviour as the ``rasa`` command (``rasa.__main__.main``).
The one difference is import order. Rasa 3.6 loads the LogisticRegressionClassifier
with ``skops.io``, whose import builds its lists of trusted types by asking
``pickle.whichmodule`` for every numpy and scipy ufunc (they have no
``__module__``): each such call walks every loaded module. Imported as Rasa does
it, after TensorFlow and the rest of Rasa (about 6,000 modules), that took
14 CPU seconds, a third of the server's start; imported first (about 1,000
modules, numpy, scipy and scikit-learn, which Rasa imports anyway), it costs
well under one. The lists are the same kind of names, and Rasa loads its own
model trusting every type the file names, so what is loaded does not change.

JAX, which TensorFlow imports if it is installed, is kept out (:data:`UNUSED_MODULES`).
"""

from __future__ import annotations

import sys

#: installed but never used by a Rasa server of this pipeline; blocked (``import`` raises
#: ImportError). TensorFlow imports JAX only for TFLite's converter of JAX functions
#: (``tensorflow/lite/python/util.py``: ``try: from jax import xla_computation``, None on ImportError):
#: 64 MiB of RSS and 0.6 CPU s of every Rasa start.
UNUSED_MODULES = ("jax", "jaxlib")


def main() -> int:
    """Import ``skops.io``, then run ``rasa`` with this process's arguments (without :data:`UNUSED_MODULES`)."""
    for name in UNUSED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: import raises ImportError
    import skops.io  # noqa: F401  (first: see the module docstring)
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
