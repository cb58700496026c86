"""Every number this book takes from Unlu et al. (arXiv:2402.00776), in one place.

Hyper-parameters and training recipe (§4–5), the trainable-parameter counts and the test
metrics of Table 1. Anything the book derives from them (the patch length d_i = 32, the
200 parameters between classical and hybrid) is computed from these, not typed again.
"""

from __future__ import annotations

__all__ = [
    "ARXIV",
    "HYPER_PARAMETERS",
    "CLASSIFIER_WIDTH",
    "LEARNING_RATE",
    "BATCH_SIZE",
    "EPOCHS",
    "PARAMETERS",
    "TABLE1",
    "METRICS",
]


#: The paper's arXiv identifier.
ARXIV = "2402.00776"

# §4: n_l encoder layers, token length d_t, n_h heads, MLP width d_ff; d_i = 32 follows from
# the counts below (chapter 3), not from the text, which says n_t = 16.
#: The paper's architecture (§4): layers, token width, heads, MLP width, patch size.
HYPER_PARAMETERS = {"n_layers": 5, "d_token": 16, "n_heads": 4, "d_ff": 16, "d_patch": 32}
CLASSIFIER_WIDTH = 32  #: the classifier's hidden layer: Linear(d_t, 32), LeakyReLU, Linear(32, 1)

# §5: Adam, BCE, best epoch by validation accuracy.
#: The paper's learning rate (Adam).
LEARNING_RATE = 5e-3
#: The paper's batch size.
BATCH_SIZE = 512
#: The paper's training epochs.
EPOCHS = 40

# Table 1, trainable parameters: (attention, pooling) → count. The table's last row prints
# 4545/4785 where 4785/4585 is meant (classical/hybrid, as in every other row).
#: Table 1's parameter counts, by variant.
PARAMETERS = {
    ("classical", "cls"): 4801,
    ("classical", "cmx"): 4785,
    ("classical", "cmn"): 4785,
    ("hybrid", "cls"): 4601,
    ("hybrid", "cmx"): 4585,
    ("hybrid", "cmn"): 4585,
}

# Table 1, test set: (attention, pooling, positional encoding) → (accuracy, BCE, AUC).
#: Table 1 of the paper: each variant's test accuracy, BCE and AUC.
TABLE1 = {
    ("classical", "cls", True): (0.717, 0.564, 0.780),
    ("hybrid", "cls", True): (0.502, 0.6931, 0.501),
    ("classical", "cls", False): (0.720, 0.561, 0.783),
    ("hybrid", "cls", False): (0.502, 0.6931, 0.500),
    ("classical", "cmx", True): (0.718, 0.562, 0.783),
    ("hybrid", "cmx", True): (0.718, 0.565, 0.779),
    ("classical", "cmx", False): (0.722, 0.557, 0.786),
    ("hybrid", "cmx", False): (0.718, 0.565, 0.779),
    ("classical", "cmn", True): (0.720, 0.559, 0.784),
    ("hybrid", "cmn", True): (0.696, 0.592, 0.751),
    ("classical", "cmn", False): (0.720, 0.560, 0.783),
    ("hybrid", "cmn", False): (0.692, 0.595, 0.748),
}
#: The metrics of Table 1.
METRICS = ("accuracy", "bce", "auc")
