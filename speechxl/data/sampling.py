"""Language-balanced sampling for multilingual training.

Each language l with h_l hours gets a share p_l of every epoch:
  natural      p_l = h_l / H
  temperature  p_l proportional to (h_l / H) ** alpha   (XLSR: alpha = 0.5; alpha = 1 is natural)
  unimax       the epoch's budget H is shared out evenly, from the smallest language up, but no
               language gets more than ``max_epochs`` passes over its own data (Chung et al., 2023)
An epoch then draws p_l * H hours from language l: whole passes over its utterances plus a
random part pass, without replacement within a pass. ``alpha_stages`` changes the temperature from
a given epoch on (multi-stage training, WavLabLM: e.g. the natural shares first, then balanced ones).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np

from speechxl.config import ConfigError

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class SamplingConfig:
    """How much of each language an epoch draws."""

    method: str = "temperature"
    """'natural', 'temperature' or 'unimax'."""
    alpha: float = 0.5
    """Temperature exponent: 1 is natural, 0 is uniform over languages."""
    max_epochs: float = 4.0
    """UniMax: most passes over one language's data per epoch."""
    alpha_stages: list[tuple[int, float]] = field(default_factory=list)
    """Temperature stages: [[epoch, alpha], ...], each alpha from its epoch on (before the first: ``alpha``),
    e.g. [[0, 1.0], [3, 0.5]]: natural shares for 3 epochs, then XLSR's balance."""

    def validate(self) -> None:
        if self.method not in ("natural", "temperature", "unimax"):
            raise ConfigError(f"method is natural, temperature or unimax, not {self.method!r}")
        if not 0 <= self.alpha <= 1:
            raise ConfigError("alpha is in [0, 1]")
        if self.max_epochs <= 0:
            raise ConfigError("max_epochs is positive")
        if any(not 0 <= a <= 1 for _, a in self.alpha_stages) or any(e < 0 for e, _ in self.alpha_stages):
            raise ConfigError("alpha_stages: [[epoch >= 0, alpha in [0, 1]], ...]")
        if self.alpha_stages and self.method != "temperature":
            raise ConfigError(f"alpha_stages are stages of the temperature method, not of {self.method!r}")

    def at_epoch(self, epoch: int) -> SamplingConfig:
        """The sampling of ``epoch``: ``alpha`` from its stage."""
        alpha = self.alpha
        for start, a in sorted(self.alpha_stages):
            if epoch >= start:
                alpha = a
        return replace(self, alpha=alpha)


def language_shares(hours: dict[str, float], cfg: SamplingConfig) -> dict[str, float]:
    """Share of an epoch (summing to 1) for each language, from its hours."""
    langs = sorted(hours)
    h = np.array([hours[lang] for lang in langs], dtype=np.float64)
    total = h.sum()
    if cfg.method == "natural":
        p = h / total
    elif cfg.method == "temperature":
        p = (h / total) ** cfg.alpha
        p /= p.sum()
    else:
        budget = np.zeros_like(h)
        left = total
        order = np.argsort(h)
        for i, idx in enumerate(order):
            share = left / (len(order) - i)
            budget[idx] = min(share, cfg.max_epochs * h[idx])
            left -= budget[idx]
        p = budget / budget.sum()
    return dict(zip(langs, p.tolist()))


def epoch_indices(langs: list[str], durations: np.ndarray, cfg: SamplingConfig,
                  rng: np.random.Generator) -> np.ndarray:
    """Utterance indices for one epoch: language l contributes about p_l * H hours."""
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(langs):
        by_lang[lang].append(i)
    hours = {lang: float(durations[idx].sum()) / 3600 for lang, idx in by_lang.items()}
    shares = language_shares(hours, cfg)
    total = sum(hours.values())
    out = []
    for lang in sorted(by_lang):
        idx = np.array(by_lang[lang])
        passes = shares[lang] * total / hours[lang]  # upsampling factor
        whole, part = int(passes), passes - int(passes)
        for _ in range(whole):
            out.append(rng.permutation(idx))
        out.append(rng.permutation(idx)[: int(round(part * len(idx)))])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def log_shares(langs: list[str], amounts, cfg: SamplingConfig, unit: str = "hours") -> dict[str, dict[str, float]]:
    """Log (and return) each language's amount (``amounts``: seconds of audio per utterance, or, with
    ``unit="tokens"``, tokens per sentence), share and amount per epoch after resampling."""
    per_lang: dict[str, float] = defaultdict(float)
    scale = 3600 if unit == "hours" else 1
    for lang, d in zip(langs, amounts):
        per_lang[lang] += float(d) / scale
    shares = language_shares(per_lang, cfg)
    total = sum(per_lang.values())
    table = {lang: {unit: round(per_lang[lang], 3), "share": round(shares[lang], 4),
                    f"effective_{unit}": round(shares[lang] * total, 3),
                    "passes": round(shares[lang] * total / per_lang[lang], 3)} for lang in sorted(per_lang)}
    log.info("sampling: %s%s", cfg.method, f" (alpha {cfg.alpha})" if cfg.method == "temperature" else
             f" (max {cfg.max_epochs} passes)" if cfg.method == "unimax" else "")
    short = "h" if unit == "hours" else unit
    for lang, row in table.items():
        log.info("  %-8s %9.2f %s  share %5.1f%%  %9.2f %s per epoch (%.2f passes)", lang, row[unit], short,
                 100 * row["share"], row[f"effective_{unit}"], short, row["passes"])
    return table
