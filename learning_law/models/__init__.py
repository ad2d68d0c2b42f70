"""Models used functionally by the tasks (Flax NNX modules; parameters as plain pytrees)."""

from learning_law.models.transformer import (Transformer, TransformerConfig, TransformerLoss,
                                             TransformerSymbolProbs, init_params, logits, n_params,
                                             sequence_losses)

__all__ = ["Transformer", "TransformerConfig", "TransformerLoss", "TransformerSymbolProbs", "init_params",
           "logits", "n_params", "sequence_losses"]
