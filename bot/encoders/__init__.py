"""Sentence encoders behind one interface.

This package is plain Python + numpy so that it loads both in the Rasa
process (Python 3.10, NLU featurizer) and in the bot/action processes.
"""

from bot.encoders.base import Encoder, EncoderError, LazyEncoder, get_encoder

__all__ = ["Encoder", "EncoderError", "LazyEncoder", "get_encoder"]
