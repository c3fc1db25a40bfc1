"""Model and dataset cards and tooling to share Tarsier models, datasets and results on the Hub.

- :mod:`hub_cards.model_card`: model cards (``build_model_card``, ``update_model_card``, ``write_model_card``,
  ``write_training_card`` for the end of a training run)
- :mod:`hub_cards.results`: lmms-eval / tarsier-autodq / tarsier-eval results files → headline metrics;
  :mod:`hub_cards.zeroshot`: which dataset (name, split, Hub id or ``local:`` identifier) a zero-shot result used
- :mod:`hub_cards.eval_index`: metrics → ``model-index`` ``EvalResult`` s and ``.eval_results`` entries
- :mod:`hub_cards.dataset`, :mod:`hub_cards.dataset_card`: validate and package video datasets, their cards
- :mod:`hub_cards.hub`: ``push_model``, ``push_results``, ``push_dataset``; :mod:`hub_cards.cli`: ``tarsier-hub``
- :mod:`hub_cards.testing`: a local Hub server for tests
"""
