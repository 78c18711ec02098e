"""A tiny fine-tuned character model on a two-language espeak corpus, shared by the decode tests."""

import pytest

from speechxl.corpora.demo import Sizes
from speechxl.text.lang_dir import make_lang_dir, make_word_lms
from speechxl.train.finetune import finetune, load_finetune_config
from tests.conftest import TINY_CTC, prepared_demo


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """(root, data dir, final figures): root/ctc is the model; data has lang_char, lang_phone, lang_word."""
    root = tmp_path_factory.mktemp("pipe")
    sizes = Sizes(train=16, dev=3, test=4, unlabelled=0, heldout_test=2, heldout_unlabelled=1, text_only=30,
                  speakers=(2, 1, 1))
    data = prepared_demo(root, ("es", "ru"), sizes, seed=1)
    for kind in ("chars", "phones"):
        make_lang_dir(kind, data / "train", data / f"lang_{kind[:-1] if kind != 'phones' else 'phone'}",
                      eval_dirs=[data / "test"], lm_text=data / "lm_text")
    make_word_lms(data / "train", data / "lang_word", data / "lm_text", 2, eval_dirs=[data / "test"])
    cfg = load_finetune_config(None, TINY_CTC + [f"data={data / 'train'}", f"valid_data={data / 'dev'}",
                                                 f"out={root / 'ctc'}", "units=chars", "train.max_steps=4",
                                                 "train.valid_every=2", "train.save_every=2"])
    figures = finetune(cfg)
    return root, data, figures
