"""The action server in one process: ``python -m actions.serve --port 5055``.

``python -m rasa_sdk`` (rasa-sdk 3.21 on Sanic 25) starts a Sanic primary
process that imports the actions (and so numpy, scikit-learn and the encoder
code) and then a worker process that imports them again and does the work:
the idle primary held about 170 MiB (bench/, README "Performance"). This
serves the same application (``rasa_sdk.endpoint.create_app_for_serve``: the
webhook, ``/health``, ``/actions``) from a single process. Scale out by
running more of them behind a load balancer, like every dmdesk process.

The FAQ knowledge base is built and the encoder's weights are loaded before
the server listens (``/health`` answers only then), so no customer's question
waits for them.
"""

from __future__ import annotations

import argparse
import logging
import os

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic

from bot import runtime
from bot.settings import core_settings


def main() -> None:
    """Parse ``--port`` and ``--actions`` and serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions", help="package with the Action classes")
    args = parser.parse_args()
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging("INFO")
    utils.update_sanic_log_level()
    executor = ActionExecutor()
    executor.register_package(args.actions)
    # The FAQ index (vectors from the Redis cache, n-grams fitted) is built before the server
    # listens, not by the first question: that one would wait seconds, and the others behind it.
    runtime.knowledge_base()
    # The index's vectors come from the Redis cache, so building it loads no encoder weights
    # (bot/encoders/base.py). The FAQ search still encodes the queries the NLU's shared vector
    # does not cover (a text that normalisation changes, 17 % of the FAQ questions of the bench
    # mix; an expired key): load the weights now, so that no customer waits for them.
    runtime.load_encoders(core_settings())
    app = create_app_for_serve(executor)
    # rasa-sdk listens on SANIC_HOST (its default 0.0.0.0); the stack sets loopback
    app.prepare(host=os.environ.get("SANIC_HOST", "0.0.0.0"), port=args.port, single_process=True)
    Sanic.serve_single(app)


if __name__ == "__main__":
    main()
