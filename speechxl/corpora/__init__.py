"""Corpus importers: one module per corpus, registered here for ``speechxl prepare <corpus>``.

A corpus module has ``HELP`` (one line), ``add_arguments(parser)`` (its options) and
``run(args)``; it lists its utterances as ``prepare.Source`` items, decodes them once with
``prepare.convert`` and writes each ``data/<set>/`` with ``prepare.prepare_set`` (checks, rejects). A new corpus is a new
module and one line below.
"""

from speechxl.corpora import commonvoice, demo, fieldwork, fieldwork_demo, folder, hf, kaldi, lhotse, nemo

CORPORA = {"commonvoice": commonvoice, "demo": demo, "fieldwork": fieldwork, "fieldwork-demo": fieldwork_demo,
           "kaldi": kaldi, "nemo": nemo, "lhotse": lhotse, "folder": folder, "hf": hf}
