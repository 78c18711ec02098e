"""Token embeddings: ids (B, L) -> (B, L, D).

``TextEmbedding``, RoBERTa's and XLM-R's: a word embedding, a learned position embedding whose
positions count the non-padding tokens from ``pad_id + 1`` on (padding keeps position
``pad_id``), and the embedding of token type 0, summed, then LayerNorm and dropout.
``UnitEmbedding``, a joint speech-text model's: units (characters or phones) embedded, LayerNorm
and dropout, no positions (the Conformer's attention brings relative ones).
"""

from __future__ import annotations

import torch
from torch import nn

from speechxl.nn.dropout import Dropout


class TextEmbedding(nn.Module):
    def __init__(self, vocab_size: int, dim: int, max_positions: int, pad_id: int, type_vocab_size: int,
                 layer_norm_eps: float, dropout: float):
        super().__init__()
        self.pad_id = pad_id
        self.words = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        self.positions = nn.Embedding(max_positions, dim, padding_idx=pad_id)
        self.token_types = nn.Embedding(type_vocab_size, dim)
        self.layer_norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.dropout = Dropout(dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (B, L) -> (B, L, D)
        real = (ids != self.pad_id).long()
        positions = torch.cumsum(real, dim=1) * real + self.pad_id  # (B, L)
        x = self.words(ids) + self.positions(positions) + self.token_types.weight[0]
        return self.dropout(self.layer_norm(x))


class UnitEmbedding(nn.Module):
    def __init__(self, vocab_size: int, dim: int, dropout: float, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.units = nn.Embedding(vocab_size, dim)
        self.layer_norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.dropout = Dropout(dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (B, L) -> (B, L, D)
        return self.dropout(self.layer_norm(self.units(ids)))
