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
"""

from __future__ import annotations

import sys


def main() -> int:
    """Import ``skops.io``, then run ``rasa`` with this process's arguments."""
    import skops.io  # noqa: F401  (first: see the module docstring)
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
