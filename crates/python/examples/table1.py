"""The report's Table 1 rows (KNN, MF, autoencoder: RMSE, MAE and accuracy
under the repeated 90/10 holdout) from Python, beside the default settings.

    python crates/python/examples/table1.py [data/ml-latest-small] [repeats]

The report's own models are the `preset="report"` rows; `movierec reproduce`
prints the same rows beside the report's figures.
"""

import sys

import movierec

data = movierec.load(sys.argv[1] if len(sys.argv) > 1 else "data/ml-latest-small")
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
models = [
    movierec.KNN(preset="report"),
    movierec.DenseMF(),
    movierec.Autoencoder(preset="report"),
    movierec.KNN(),
    movierec.MF(),
    movierec.Autoencoder(),
]
table = movierec.evaluate(models, data, repeats=repeats, ranking_at=None)
print(data)
print(table[["model", "rmse", "rmse_ci95", "mae", "mae_ci95", "accuracy", "accuracy_ci95"]].to_string(index=False))
