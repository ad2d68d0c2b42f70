"""Text data of the language-model task (DESIGN.md "Task": lm).

``load_lm_data`` turns a corpus spec into token-id splits:

* ``"default"``: the embedded corpus of children's stories generated offline from a seed by a unifilar
  stochastic grammar (learning_law.data.corpus), whose irreducible loss is known exactly;
* ``"text:PATH"``: any UTF-8 text file (stories = blank-line separated paragraphs, or lines);
* ``"tinystories:PATH"``: a local TinyStories copy, prepared through a tensorflow-datasets builder
  (learning_law.data.tinystories);
* ``"news"``: embedded news reports of another style, generated from a seed (learning_law.data.news).

``load_mixture_data`` (learning_law.data.mixture) trains on a mixture of such sources,
``"default=0.5,news=0.5"``, and takes dev/val/test from one desired source.
"""

from learning_law.data.mixture import load_mixture_data, parse_sources
from learning_law.data.sources import LMData, inject_noise, load_lm_data

__all__ = ["LMData", "load_lm_data", "load_mixture_data", "parse_sources", "inject_noise"]
